"""examples/sdk_walkthrough.py (the spec's walkthrough with the SDK) runs against the demo
server and prints what the spec's guide shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from sodata.client import Client
from sodata.demo import ids
from tests.conftest import Server

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "sdk_walkthrough.py"


def test_sdk_walkthrough_runs(server: Server, sdk: Client) -> None:
    env = {**os.environ, "SODATA_URL": server.url, "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == str(ids.SOLINK)
    raw = sdk.datapoints.query(
        ids.SOLINK,
        ids.DELPHYS_GP2,
        "Global|0|140100",
        "2021-09-20T07:47:26.724Z",
        "2021-09-21T14:47:26.724Z",
        use_device_local_timezone=True,
    )
    assert lines[1] == f"{len(raw[0])} raw points of Delphys GP2 - 160 kVA" and len(raw[0]) > 500
    first_local = pd.Timestamp(raw[0].at[0]).tz_convert("Europe/Paris")
    assert str(first_local) in done.stdout  # the DataFrame in the device's zone
    # the daily averages of the spec's 5.8.1 table, from local midnight 2022-05-01
    assert "2022-05-01 00:00:00+02:00" in done.stdout
    assert "2022-05-12 00:00:00+02:00" in done.stdout
