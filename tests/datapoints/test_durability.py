"""Acknowledged data is never lost: a server killed with SIGKILL right after it answered 200
to an ingestion call, while other calls are still in flight, restarts on the same database
with every acknowledged point, its rollups equal to its raw points and its last value.

A dedicated SQLite server (the shared ones must not be killed)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import BACKENDS, Server, client_as
from tests.datapoints.wire import LOAD, Account, iso, ms, ok, pairs

pytestmark = pytest.mark.skipif("sqlite" not in BACKENDS, reason="SQLite is not tested")

BATCH = 2_000  # points per call
START = ms("2022-05-18T00:00:00Z")
STEP = 1_000  # ms between points


def batch(k: int) -> list[dict]:
    """Call k's points: its own times, values k * BATCH + i."""
    first = START + k * BATCH * STEP
    return [{"at": iso(first + i * STEP), "value": k * BATCH + i} for i in range(BATCH)]


def test_acknowledged_points_survive_a_kill(tmp_path: Path) -> None:
    server = Server("sqlite", tmp_path)
    try:
        with client_as(server, "admin@example.com") as api:
            account = Account.create(api)
            device = account.device()
            acknowledged: set[int] = set()
            wrong: list[str] = []  # what the senders saw that they should not have
            lock, killed = threading.Lock(), threading.Event()
            numbers = iter(range(10_000))

            def sender() -> None:
                with client_as(server, "admin@example.com") as client:
                    while not killed.is_set():
                        with lock:
                            k = next(numbers)
                        try:
                            answer = account.send(
                                device, [{"mappingConfig": LOAD, "data": batch(k)}], client
                            )
                        except httpx.HTTPError:
                            return  # the server is gone
                        if answer.status_code != 200 or answer.json()["accepted"] != BATCH:
                            wrong.append(answer.text)
                            return
                        with lock:
                            acknowledged.add(k)
                            if len(acknowledged) >= 12 and not killed.is_set():
                                os.kill(server.process.pid, signal.SIGKILL)
                                killed.set()

            threads = [threading.Thread(target=sender) for _ in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert killed.is_set() and not wrong, (wrong, server.log_tail())
            assert server.process.wait(timeout=30) == -signal.SIGKILL
    finally:
        server.stop()

    restarted = Server("sqlite", tmp_path)  # the same database file
    try:
        with client_as(restarted, "admin@example.com") as api:
            account = Account(api, account.uuid, account.customer, account.site)
            window = {"from": "2022-05-18T00:00:00Z", "to": "2022-06-18T00:00:00Z"}
            series = {"deviceUuid": device, "mappingConfig": LOAD}
            got = dict(pairs(account.read(series, **window)))
            for k in sorted(acknowledged):
                for point in batch(k):
                    assert got.get(ms(point["at"])) == point["value"], (k, point)
            # calls in flight at the kill are there or not, never half
            calls = {(t - START) // (BATCH * STEP) for t in got}
            for k in calls:
                assert all(got.get(ms(p["at"])) == p["value"] for p in batch(k)), k
            # the rollups agree with the raw points, and the last value with the history
            counts = account.read(series | {"aggregation": "count"}, granularity="year", **window)
            assert [p["value"] for p in counts["data"]] == [len(got)]
            last = max(got)
            assert [(v["date"], v["value"]) for v in account.last_values(device)] == [
                (iso(last), str(got[last]))
            ]
            # and the server takes data again
            assert account.sent(device, [{"mappingConfig": LOAD, "data": batch(9_999)}]) == {
                "accepted": BATCH,
                "rejected": 0,
                "errors": [],
            }
            ok(api.get("/api/v1/ca"))
        assert restarted.unexpected_errors() is None, restarted.unexpected_errors()
    finally:
        restarted.stop()
