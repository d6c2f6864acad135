"""The spec's full Python example (section 7.1, in examples/spec_walkthrough.py) runs unchanged
but for its constants against the demo server: python-keycloak signs in, the script finds the
SoLink account, pages through its devices to the Delphys and asks for its data points, which
the demo history answers."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
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
    # the data points of 7.1: the demo history of the Delphys, from 07:47:26.724 Paris time
    # (05:47:26.724Z, as the spec's own answer shows: its first point is at 05:48:04Z)
    (series,) = answer["series"]
    assert series["deviceUuid"] == str(ids.DELPHYS_GP2), answer
    assert series["deviceTimeZone"] == "Europe/Paris"
    times = [datetime.fromisoformat(point["at"]) for point in series["data"]]
    assert times and times == sorted(times)
    start = datetime(2021, 9, 20, 5, 47, 26, 724000, tzinfo=UTC)
    assert start <= times[0] < start + timedelta(minutes=5), times[0]
    assert times[-1] < datetime(2021, 9, 21, 12, 47, 26, 724000, tzinfo=UTC), times[-1]
