"""Crash durability (issue 13): clients ingest over HTTP while the server is killed with SIGKILL
at random moments, many times, each time restarted on the same database; then everything is
read back and checked.

    python -m bench.crash [--backend sqlite] [--backend postgresql] [--kills 50] [--senders 4]

The server is `python -m sodata serve --demo` (one process) on a fresh database. `--senders`
threads send ingestion calls without pause, each to its device (`--devices`, shared by the
senders in turn). Call c (numbered across senders) holds BATCH points of each of two series
(Global|0|140100 and Global|0|140108), one a minute from START + c * BATCH minutes, values
c * 1000 + i (and a quarter of that): calls never share a time, a point tells its call, and two
senders of a device make late data (a call committed after a later one) as well as appends.
A call is acknowledged when it answers 200 with every point accepted; a call whose answer never
came (connection reset or refused, timeout) or answered 503 is unknown; anything else is wrong.

A killer waits until the server acknowledged a call, then a random time (seeded; `--pause`,
0.2 to 1.5 s), kills the server with SIGKILL, starts a new one on the same database (SQLite
file or PostgreSQL database; a new port, so the senders sign in again) and lets the senders go
on with new calls (a lost call is not sent again). After the last kill, the last server's
first call and one more pause, the senders stop and the checks run on the last server:
- every point, read back over HTTP (granularity raw, following nextAfter), belongs to a call
  sent to its device and has that call's value; no time is answered twice;
- every acknowledged call is there whole; every unknown call is there whole or not at all (not
  at all after a 503);
- both rollup levels are a recomputation from the raw rows: the stored 15-minute slots (rows of
  a UTC day) and hours (rows of a UTC month), read with SQL (tests/timeseries/recompute.py); and
  through the API, count/sum/min/max/avg by day and month in UTC (from the hours) and by day
  in Asia/Kolkata (+05:30: from the slots) equal the brute force over the points read back
  (tests/timeseries/brute.py);
- each device's last values are its latest points;
- no server logged an unexpected error or a traceback.

Prints a line per kill and the figures: kills, points checked, calls by outcome.
tests/datapoints/test_crash_loop.py runs the same loop with a few kills on each backend.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np

from bench.common import (
    CA,
    MINUTE_MS,
    Api,
    Server,
    backends,
    database,
    ingest_body,
    say,
    session_on,
    variable_ids,
)
from tests.timeseries import brute, recompute

SERIES = ("Global|0|140100", "Global|0|140108")  # two variables of the Masterys type
SCALE = (1.0, 0.25)  # value of point i of call c in series j: (c * 1000 + i) * SCALE[j]
BATCH = 200  # points per series per call (< 1000: the value tells the point)
START = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp() * 1000)
FROM, TO = "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"  # queries: wider than any call
AGGREGATIONS = ("count", "sum", "min", "max", "avg")
# (granularity, zone): UTC buckets come from the hourly rollups, Kolkata's from the 15-minute ones
# (the SQL check sees each slot and hour; the brute force by hour costs 4 times a day's)
BUCKETS = (("day", "UTC"), ("month", "UTC"), ("day", "Asia/Kolkata"))
ACKNOWLEDGED, UNKNOWN, WRONG = "acknowledged", "unknown", "wrong"


def points(call: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The times of call `call`'s points and their values in each series."""
    i = np.arange(BATCH, dtype=np.int64)
    t = START + (call * BATCH + i) * MINUTE_MS
    return t, [(call * 1000 + i) * scale for scale in SCALE]


def body(call: int) -> bytes:
    t, values = points(call)
    return ingest_body([(m, t, v) for m, v in zip(SERIES, values, strict=True)])


def owner(t: int) -> tuple[int, int]:
    """The call and index of the point at time `t`."""
    return divmod((t - START) // MINUTE_MS, BATCH)


@dataclass
class Call:
    number: int
    sender: int
    device: int
    outcome: str = ""  # "" while in flight
    reason: str = ""  # unknown or wrong: why
    life: int = 0  # the server (0: the first) it was sent to
    present: bool | None = None  # after the checks: its points are there (all of them)


@dataclass
class Result:
    backend: str
    kills: int
    calls: list[Call]
    points: int  # read back and checked
    seconds: float  # in all
    checking: float  # the checks' share
    restarts: list[float] = field(default_factory=list)  # seconds to come back, each

    def of(self, outcome: str) -> list[Call]:
        return [c for c in self.calls if c.outcome == outcome]

    @property
    def acknowledged_points(self) -> int:
        return len(self.of(ACKNOWLEDGED)) * BATCH * len(SERIES)

    def unknown(self) -> tuple[int, int]:
        """Unknown calls found whole, and absent."""
        whole = sum(bool(c.present) for c in self.of(UNKNOWN))
        return whole, len(self.of(UNKNOWN)) - whole

    def line(self) -> str:
        whole, absent = self.unknown()
        reasons = Counter(c.reason for c in self.of(UNKNOWN))
        why = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
        restarts = (
            f"restarts {min(self.restarts):.1f}-{max(self.restarts):.1f} s, "
            if self.restarts
            else ""
        )
        return (
            f"[{self.backend}] {self.kills} kills survived, {self.points:,} points checked "
            f"(acknowledged {self.acknowledged_points:,} in {len(self.of(ACKNOWLEDGED)):,} calls; "
            f"unknown calls {whole + absent}: {whole} whole, {absent} absent"
            f"{f' ({why})' if why else ''}) in {self.seconds:.0f} s ({restarts}"
            f"checks {self.checking:.0f} s)"
        )


class Crashes:
    """The server (restarted after each kill), the senders and the record of their calls."""

    def __init__(
        self,
        url: str,
        workdir: Path,
        senders: int = 4,
        devices: int = 2,
        seed: int = 13,
        pause: tuple[float, float] = (0.2, 1.5),
        log: Callable[..., None] = say,
    ) -> None:
        self.url, self.workdir, self.pause, self.log = url, workdir, pause, log
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.random = random.Random(seed)
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.up, self.stop = threading.Event(), threading.Event()
        self.logs: list[Path] = []
        self.restarts: list[float] = []
        self.server, self.token = self._start()
        api = Api(self.server.base)
        site = api.site()
        self.devices = [api.device(site) for _ in range(devices)]
        api.close()
        self.senders = [
            threading.Thread(target=self._send, args=(s, s % devices), daemon=True)
            for s in range(senders)
        ]

    def _start(self) -> tuple[Server, str]:
        """A new server on the database, and an access token of it (its issuer names its port,
        which changes)."""
        path = self.workdir / f"crash-{self.backend}-{len(self.logs)}.log"
        self.logs.append(path)
        server = Server(self.url, path, plain=True)
        api = Api(server.base)
        api.close()
        return server, api.token

    # --- the loop ---------------------------------------------------------------------------

    def _send(self, sender: int, device: int) -> None:
        device_uuid = self.devices[device]
        with httpx.Client(timeout=60) as http:
            while True:
                self.up.wait()
                if self.stop.is_set():
                    return
                with self.lock:
                    call = Call(len(self.calls), sender, device, life=len(self.logs) - 1)
                    self.calls.append(call)
                    base, token = self.server.base, self.token
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                url = f"{base}/api/v1/ca/{CA}/devices/{device_uuid}/datapoints"
                try:
                    answer = http.post(url, content=body(call.number), headers=headers)
                except httpx.HTTPError as exc:
                    call.reason, call.outcome = type(exc).__name__, UNKNOWN
                    continue
                expected = {"accepted": BATCH * len(SERIES), "rejected": 0, "errors": []}
                if answer.status_code == 200 and answer.json() == expected:
                    call.outcome = ACKNOWLEDGED
                elif answer.status_code == 503:
                    call.reason, call.outcome = "503", UNKNOWN
                else:
                    call.reason = f"{answer.status_code} {answer.text[:300]}"
                    call.outcome = WRONG

    def run(self, kills: int) -> None:
        """Sends, killing and restarting the server `kills` times; then stops the senders. Each
        server is killed a random pause after it acknowledged its first call."""
        self.up.set()
        for thread in self.senders:
            thread.start()
        try:
            for n in range(1, kills + 1):
                self._first_call()
                time.sleep(self.random.uniform(*self.pause))
                self.up.clear()  # senders that lose their call wait for the next server
                with self.lock:
                    life = len(self.logs) - 1
                    in_flight = sum(not c.outcome for c in self.calls)
                    acknowledged = sum(
                        c.outcome == ACKNOWLEDGED for c in self.calls if c.life == life
                    )
                os.kill(self.server.process.pid, signal.SIGKILL)
                code = self.server.process.wait(timeout=30)
                assert code == -signal.SIGKILL, f"the server exited with {code} before its kill"
                self.server.stop()  # closes its log
                t0 = time.perf_counter()
                with self.lock:
                    self.server, self.token = self._start()
                self.restarts.append(time.perf_counter() - t0)
                self.log(
                    f"  kill {n}/{kills}: the server had acknowledged {acknowledged} calls, "
                    f"{in_flight} in flight; back in {self.restarts[-1]:.1f} s"
                )
                self.up.set()
            self._first_call()  # the last server takes calls too
            time.sleep(self.random.uniform(*self.pause))
        finally:
            self.stop.set()
            self.up.set()
            for thread in self.senders:
                thread.join(timeout=120)
        assert not any(t.is_alive() for t in self.senders), "a sender did not stop"
        wrong = [f"call {c.number}: {c.reason}" for c in self.calls if c.outcome == WRONG]
        assert not wrong, f"answers neither 200 nor 503: {wrong[:5]}"

    def _first_call(self, timeout: float = 120) -> None:
        """Waits until the current server acknowledged a call."""
        life = len(self.logs) - 1
        deadline = time.monotonic() + timeout
        while not any(c.outcome == ACKNOWLEDGED and c.life == life for c in self.calls[::-1]):
            assert time.monotonic() < deadline, f"server {life} acknowledged no call in {timeout} s"
            wrong = [c.reason for c in self.calls if c.outcome == WRONG]
            assert not wrong, f"answers neither 200 nor 503: {wrong[:5]}"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.stop()

    # --- the checks -------------------------------------------------------------------------

    def check(self) -> int:
        """Checks the database on the last server (see the module's docstring); the number of
        points read back."""
        api = Api(self.server.base)
        try:
            found = {
                (d, m): self._check_raw(api, d, m)
                for d in range(len(self.devices))
                for m in range(len(SERIES))
            }
            self._check_calls(found)
            uuids = {
                d: {v["mappingConfig"]: v["uuid"] for v in api.variables(self.devices[d])}
                for d in range(len(self.devices))
            }
            for (d, m), got in found.items():
                self._check_buckets(api, d, m, got)
            for d in range(len(self.devices)):
                self._check_last_values(api, d, found)
        finally:
            api.close()
        keys = list(found)
        ids = variable_ids(self.url, [uuids[d][SERIES[m]] for d, m in keys])
        with session_on(self.url) as session:
            for key, vid in zip(keys, ids, strict=True):
                stored = recompute.assert_rollups_match_raw(session, vid)  # both levels
                assert stored == found[key], f"device {key[0]} {SERIES[key[1]]}: API != table"
        errors = [
            f"{path.name}: {line}"
            for path in self.logs
            for line in path.read_text().splitlines()
            if "unexpected error" in line or "Traceback" in line
        ]
        assert not errors, "the servers logged errors:\n" + "\n".join(errors[:20])
        return sum(len(got) for got in found.values())

    def _read(self, api: Api, device: int, m: int, granularity: str, **fields: Any) -> list:
        """All (ms, value) of a series, following nextAfter."""
        series: dict[str, Any] = {"deviceUuid": self.devices[device], "mappingConfig": SERIES[m]}
        series.update(fields.pop("series", {}))
        query = {"from": FROM, "to": TO, "useDeviceLocalTimezone": False, "take": 100_000}
        query |= {"granularity": granularity, "timezone": "UTC", **fields}
        found: list[tuple[int, float]] = []
        while True:
            answer = api.call("PUT", f"/api/v1/ca/{CA}/datapoints", query | {"series": [series]})
            (got,) = answer["series"]
            found += [(brute.utc(p["at"]), p["value"]) for p in got["data"]]
            if got["nextAfter"] is None:
                return found
            series["after"] = got["nextAfter"]

    def _check_raw(self, api: Api, device: int, m: int) -> dict[int, float]:
        pairs = self._read(api, device, m, "raw")
        times = [t for t, _ in pairs]
        where = f"device {device} {SERIES[m]}"
        assert times == sorted(set(times)), f"{where}: times out of order or answered twice"
        by_call = {c.number: c for c in self.calls}
        for t, value in pairs:
            number, i = owner(t)
            call = by_call.get(number)
            assert call is not None and call.device == device and t % MINUTE_MS == 0, (
                f"{where}: a point from nowhere at {brute.iso(t)}"
            )
            want = (number * 1000 + i) * SCALE[m]
            assert value == want, f"{where}: {value} at {brute.iso(t)}, call {number} sent {want}"
        return dict(pairs)

    def _check_calls(self, found: dict[tuple[int, int], dict[int, float]]) -> None:
        present: Counter[int] = Counter()
        for got in found.values():
            present.update(owner(t)[0] for t in got)
        whole = BATCH * len(SERIES)
        for call in self.calls:
            n = present[call.number]
            where = f"call {call.number} (sender {call.sender}, server {call.life}, {call.reason})"
            if call.outcome == ACKNOWLEDGED:
                assert n == whole, f"acknowledged {where}: {n} of its {whole} points"
            elif call.reason == "503":  # the server said it did not write them
                assert n == 0, f"{where}: {n} of its points, after a 503"
            else:
                assert n in (0, whole), f"unknown {where}: {n} of its {whole} points, half-written"
            call.present = n == whole

    def _check_buckets(self, api: Api, device: int, m: int, got: dict[int, float]) -> None:
        for granularity, zone in BUCKETS:
            grouped = brute.buckets(got, granularity, ZoneInfo(zone))
            for aggregation in AGGREGATIONS:
                answer = self._read(
                    api, device, m, granularity, timezone=zone, series={"aggregation": aggregation}
                )
                where = f"device {device} {SERIES[m]} {granularity} in {zone}"
                brute.assert_close(answer, grouped, aggregation, where)

    def _check_last_values(self, api: Api, device: int, found: dict) -> None:
        answer = api.call("GET", f"/api/v1/ca/{CA}/devices/{self.devices[device]}/last-values")
        (only,) = answer["devices"]
        last = {f"{v['itemType']}|{v['itemIndex']}|{v['serviceId']}": v for v in only["values"]}
        for m, mapping in enumerate(SERIES):
            got = found[device, m]
            if not got:
                assert mapping not in last, f"device {device} {mapping}: a last value of nothing"
                continue
            t = max(got)
            value = last[mapping]
            assert (brute.utc(value["date"]), float(value["value"])) == (t, got[t]), (
                f"device {device} {mapping}: last value {value}, latest point {brute.iso(t)} "
                f"{got[t]}"
            )


def crash_loop(
    url: str,
    workdir: Path,
    kills: int,
    senders: int = 4,
    devices: int = 2,
    seed: int = 13,
    pause: tuple[float, float] = (0.2, 1.5),
    log: Callable[..., None] = say,
) -> Result:
    """Ingests while killing the server `kills` times on the database at `url` (SQLite file or
    PostgreSQL database, empty or migrated; its server logs go to `workdir`), then checks it.
    Fails with AssertionError on anything lost, half-written, out of place or wrong."""
    t0 = time.perf_counter()
    crashes = Crashes(url, workdir, senders, devices, seed, pause, log)
    try:
        crashes.run(kills)
        t1 = time.perf_counter()
        checked = crashes.check()
        t2 = time.perf_counter()
    finally:
        crashes.close()
    return Result(
        crashes.backend, kills, crashes.calls, checked, t2 - t0, t2 - t1, crashes.restarts
    )


def arguments() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", action="append", choices=["sqlite", "postgresql"])
    p.add_argument("--keep", action="store_true", help="keep the database (SQLite file or PG db)")
    p.add_argument("--workdir", type=Path, help="where the SQLite file goes (default: /tmp)")
    p.add_argument("--kills", type=int, default=50, help="kills per backend (default 50)")
    p.add_argument("--senders", type=int, default=4, help="sender threads (default 4)")
    p.add_argument("--devices", type=int, default=2, help="devices they share (default 2)")
    p.add_argument("--seed", type=int, default=13, help="of the pauses before kills")
    p.add_argument(
        "--pause",
        type=float,
        nargs=2,
        default=(0.2, 1.5),
        metavar=("MIN", "MAX"),
        help="seconds of sending before each kill (uniform; default 0.2 1.5)",
    )
    return p


def main() -> None:
    args = arguments().parse_args()
    results = []
    for backend in backends(args):
        say(f"\n== Crash durability on {backend}: {args.kills} kills")
        with database(backend, args.workdir, args.keep) as url:
            logs = Path(tempfile.mkdtemp(prefix="sodata-crash-"))
            say(f"  server logs in {logs}")
            result = crash_loop(
                url,
                logs,
                args.kills,
                args.senders,
                args.devices,
                args.seed,
                tuple(args.pause),
            )
        say(result.line())
        results.append(result)
    say("")
    for result in results:
        say(result.line())


if __name__ == "__main__":
    main()
