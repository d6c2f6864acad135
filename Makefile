# Two commands for a new user (README): `make demo` and `make test`.
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
PORT ?= 8080

.PHONY: demo test bench

demo: $(VENV)/.server
	$(VENV)/bin/sodata serve --demo --port $(PORT)

# The suite runs in parallel (pytest-xdist), a test file at a time per worker, so that a
# file's fixtures are made once. One worker more than cores, since some tests wait on the
# processes they start; at most 4, since each worker's servers hold PostgreSQL connections
# (100 by default). Files go out in the suite's order (--no-loadscope-reorder: xdist would
# send the files with the most tests first), which puts the long scenarios first. Python may
# write its bytecode: otherwise every server the suite starts compiles sodata anew.
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print(min((os.cpu_count() or 1) + 1, 4))')

test: $(VENV)/.test
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The benchmarks of bench/README.md at quick sizes (not part of `make test`); e.g.
# make bench BENCH='--backend sqlite --backend postgresql --full'
bench: $(VENV)/.server
	$(VENV)/bin/python -m bench $(BENCH)

# `make demo` installs the server; `make test` adds the test tools on top (pytest, the type
# checker, pandas and pyarrow, the browser driver), which a demo does not need.
$(VENV)/.server: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "sodata needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.test: $(VENV)/.server
	$(VENV)/bin/python -m pip install --quiet -e '.[server,test]'
	touch $@
