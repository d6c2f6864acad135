"""Retention through the real server: a demo database served without retention, then with
SODATA_RAW_RETENTION_DAYS=30. The server's round at its start removes the raw points older
than that (the demo's 400 days of history), the daily and monthly averages of those days
answer as before, the recent raw points stay, and ingestion refuses points that old with the
reason. SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sodata.demo import ids
from tests.conftest import (
    BACKENDS,
    Server,
    _drop_postgres_database,
    _postgres_database,
    client_as,
)
from tests.datapoints.wire import LOAD, iso, ok, pairs

pytestmark = pytest.mark.scenario
DAY_MS = 86_400_000
SOLINK = f"/api/v1/ca/{ids.SOLINK}"
DEVICE = str(ids.MASTERYS_U2_CDS)


def _query(api: httpx.Client, start: int, end: int, granularity: str) -> list[tuple]:
    body: dict[str, Any] = {
        "from": iso(start),
        "to": iso(end),
        "timezone": "UTC" if granularity == "raw" else "Europe/Paris",  # from, to: wall clock
        "useDeviceLocalTimezone": False,
        "granularity": granularity,
        "series": [{"deviceUuid": DEVICE, "mappingConfig": LOAD}],
    }
    if granularity != "raw":
        body["series"][0]["aggregation"] = "avg"
        body["take"] = 1000
    answer = ok(api.put(f"{SOLINK}/datapoints", json=body))
    series = answer["series"][0]
    assert series["nextAfter"] is None
    return pairs(series)


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_raw_points_go_their_aggregates_stay(backend: str, tmp_path: Path) -> None:
    now = int(time.time() * 1000) // DAY_MS * DAY_MS
    old, recent = (now - 200 * DAY_MS, now - 40 * DAY_MS), (now - 5 * DAY_MS, now)
    old_day = (now - 100 * DAY_MS, now - 99 * DAY_MS)
    pg_name = None
    if backend == "postgresql":
        database, pg_name = _postgres_database()
    else:
        database = str(tmp_path / "retention.db")
    try:
        server = Server(backend, tmp_path, database=database)
        try:
            with client_as(server, ids.DEMO_EMAIL) as api:
                before = {g: _query(api, *old, g) for g in ("day", "month")}
                raw_old, raw_recent = _query(api, *old_day, "raw"), _query(api, *recent, "raw")
        finally:
            server.stop()
        assert len(before["day"]) >= 160 and raw_old and raw_recent

        env = {"SODATA_RAW_RETENTION_DAYS": "30"}
        server = Server(backend, tmp_path, database=database, env=env)
        try:
            with client_as(server, ids.DEMO_EMAIL) as api:
                deadline = time.monotonic() + 60
                while _query(api, *old_day, "raw"):  # the round at the start, in the background
                    assert time.monotonic() < deadline, "old raw points still there"
                    time.sleep(0.5)
                assert {g: _query(api, *old, g) for g in ("day", "month")} == before
                assert _query(api, *recent, "raw") == raw_recent

                at_old, at_new = now - 31 * DAY_MS, now - DAY_MS + 1234
                sent = {
                    "mappingConfig": LOAD,
                    "data": [{"at": iso(at_old), "value": 1}, {"at": iso(at_new), "value": 2}],
                }
                answer = ok(
                    api.post(f"{SOLINK}/devices/{DEVICE}/datapoints", json={"series": [sent]})
                )
                assert (answer["accepted"], answer["rejected"]) == (1, 1), answer
                (rejection,) = answer["errors"]
                assert rejection["point"] == 0 and rejection["at"] == iso(at_old)
                assert "older than the 30 days raw points are kept" in rejection["reason"]
                assert (at_new, 2) in _query(api, at_new, at_new + 1, "raw")
                assert server.unexpected_errors() is None
        finally:
            server.stop()
    finally:
        if pg_name:
            _drop_postgres_database(pg_name)
