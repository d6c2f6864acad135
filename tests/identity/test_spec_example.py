"""The spec's full Python example (section 7.1, in examples/spec_walkthrough.py) runs unchanged
but for its constants against the demo server: python-keycloak signs in, the script finds the
SoLink account, pages through its devices to the Delphys and asks for its data points."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

from sodata.demo import ids
from tests.conftest import Server

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "spec_walkthrough.py"


def test_spec_python_example_runs(server: Server) -> None:
    env = {
        **os.environ,
        "SODATA_API_URL": server.url + "/",
        "KEYCLOAK_AUTH_URL": server.url + "/",
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.splitlines()
    assert printed[0] == str(ids.SOLINK)
    # the device was found (beyond the first page of 25) and the data points answer printed
    assert len(printed) == 2, done.stdout
    answer = ast.literal_eval(printed[1])
    assert isinstance(answer, dict) and answer
    assert answer.get("statusCode") not in (401, 403), answer  # the token was accepted
