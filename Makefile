# Two commands for a new user (README): `make demo` and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
PORT ?= 8080

.PHONY: demo test bench

demo: $(VENV)/.installed
	$(VENV)/bin/sodata serve --demo --port $(PORT)

test: $(VENV)/.installed
	$(VENV)/bin/pytest

# The benchmarks of bench/README.md at quick sizes (not part of `make test`); e.g.
# make bench BENCH='--backend sqlite --backend postgresql --full'
bench: $(VENV)/.installed
	$(VENV)/bin/python -m bench $(BENCH)

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sodata needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[server,test]'
	touch $@
