"""Crash durability (issue 13): clients ingest over HTTP while a server is killed with SIGKILL
at random moments and restarted on the same database, KILLS times; then every acknowledged
call is there whole, every call whose answer never came is there whole or not at all, no point
comes from nowhere, both rollup levels equal a recomputation from the raw points, and the last
values are the latest points. The loop and its checks are bench/crash.py's (`python -m
bench.crash --kills 50` runs it longer).

Dedicated servers on a copy of the demo database per backend (the shared ones must not be
killed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.crash import ACKNOWLEDGED, crash_loop
from tests.conftest import BACKENDS, fresh_database

pytestmark = pytest.mark.scenario
KILLS = 5


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_points_survive_repeated_kills(
    backend: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fresh_database(backend, tmp_path, demo=True) as url:
        result = crash_loop(url, tmp_path, KILLS, seed=13)  # fails on anything lost or half
    capsys.readouterr()  # its progress, shown only if it fails
    with capsys.disabled():
        print(f"\n{result.line()}")
    assert result.kills == KILLS
    assert {c.life for c in result.of(ACKNOWLEDGED)} == set(range(KILLS + 1))
    assert result.points >= result.acknowledged_points > 0
