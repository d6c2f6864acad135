"""`sodata mqtt` refuses to start, saying why, without a broker or on a database that is not
migrated (it would answer every message 500 instead of storing it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SODATA_")}
    return subprocess.run(
        [sys.executable, "-m", "sodata", "mqtt", "--db", str(tmp_path / "x.db"), *args],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_a_broker(tmp_path: Path) -> None:
    done = _run(tmp_path)
    assert done.returncode == 1
    assert "no broker: pass --broker HOST[:PORT] or set SODATA_MQTT_HOST" in done.stderr


def test_on_a_database_not_migrated(tmp_path: Path) -> None:
    done = _run(tmp_path, "--broker", "127.0.0.1:1")
    assert done.returncode == 1
    assert "is not at the current schema: run `sodata migrate`" in " ".join(done.stderr.split())
