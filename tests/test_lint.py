"""The checks of the gate beside the tests (also run by .pre-commit-config.yaml): ruff's lint
and format, the import layers of pyproject.toml's [tool.importlinter], and mypy."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

CHECKS = {
    "ruff-check": ["ruff", "check", "src", "tests", "bench"],
    "ruff-format": ["ruff", "format", "--check", "src", "tests", "bench"],
    "imports": ["lint-imports", "--no-cache"],
    "mypy": ["mypy"],
}


def run(command: list[str], cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which(command[0], path=str(BIN))
    assert tool, f"{command[0]} is not installed: pip install -e '.[server,test]'"
    return subprocess.run(
        [tool, *command[1:]], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}
    )


@pytest.mark.parametrize("command", CHECKS.values(), ids=CHECKS.keys())
def test_check(command):
    done = run(command)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        ("kit/db.py", "sodata.models", "-> kit"),  # the kit imports no model
        ("items/service.py", "sodata.variables.service", "No import cycle"),
        ("timeseries/store.py", "fastapi", "know no HTTP framework"),
    ],
)
def test_the_import_contracts_catch_a_wrong_import(tmp_path, module, imported, contract):
    """The contracts are not vacuous: one import against them, in a copy, breaks them."""
    shutil.copytree(ROOT / "src" / "sodata", tmp_path / "src" / "sodata")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / "src" / "sodata" / module
    target.write_text(target.read_text() + f"\nimport {imported}  # noqa\n")
    done = run(["lint-imports", "--no-cache"], cwd=tmp_path, PYTHONPATH=str(tmp_path / "src"))
    assert done.returncode == 1, done.stdout + done.stderr
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout
