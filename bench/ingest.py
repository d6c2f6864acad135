"""Ingest: HTTP batches of 10,000 points, durable (the answer comes after the commit).

Each batch is one POST /api/v1/ca/{ca}/devices/{device}/datapoints with 4 series of 2,500
points (Global|0|140100..140103 of a device of our own): one point a minute per series, a few
seconds of jitter, values with one decimal; successive batches continue in time order. The bodies
are encoded before the clock starts (the client's JSON encoding is not measured; the answer's
decoding is). Variants, each on fresh devices of the same database:
- append, 1 client: --points (default 1,000,000) in time order.
- append, 2 clients: the same number of points, two threads each sending its own device's
  batches (SQLite takes one writer at a time; the server parses one body while another commits).
- overwrite, out of order: the batches of the first variant sent again with other values, in
  random order, each batch's points shuffled: every point replaces a stored one (the upsert path
  and the rollup recomputation from raw points).

Baseline: executemany of the same rows (variable_id, at, value) into a scratch table of the same
shape as datapoints (primary key (variable_id, at); WITHOUT ROWID on SQLite) in the same
database, one transaction per 10,000 rows, committed (SQLite synchronous=FULL as the server's;
PostgreSQL synchronous_commit on); a plain INSERT for the appends, INSERT ... ON CONFLICT DO
UPDATE for the overwrites.

On PostgreSQL the appends' baseline is a binary COPY of the same rows instead (the COPY data
built before the clock starts, one COPY per 10,000 rows, committed).

Many series (the MQTT ingestion's writes, at the store level): --devices (default 1,000) devices
of 3 variables (Global|0|140100..140102), each sending a message (a point of each variable) every
10 s; flushes of 2,000 messages (each device twice: 3,000 series of 2 points), each written with
one store.write and committed as the server commits (sodata.kit.db.commit_writes), in this
process, every flush appending. The SeriesPoints are built before the clock starts. Twice:
- month start: --flushes (default 50) from 2023-01-01T00:00Z, on variables with nothing stored
  (the rows of their day and month hold a few slots and hours);
- month end: --late-flushes (default 10) from 2023-02-28T23:00Z, after a point an hour of
  February and one every 15 minutes on its last day were written (not timed): each flush
  rewrites the day row (92 slots) and the month row (671 hours) of every variable, as it would
  late in a month of a device sending all along.
Baseline: the same rows per flush, committed, into a scratch table shaped like datapoints:
executemany on SQLite, binary COPY on PostgreSQL.

Targets: >= 300,000 points/s (PostgreSQL appends: and >= 0.35x binary COPY); many series: a
flush (6,000 points) in <= 50 ms (p50).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Sequence

import numpy as np
import orjson

from bench.common import (
    BATCH,
    CA,
    DAY_MS,
    Api,
    Report,
    Timing,
    backends,
    bulk_devices,
    connect,
    copy_rows,
    device_variable_ids,
    ingest_body,
    parser,
    running,
    say,
    server_ms,
    session_on,
    variable_ids,
)

SERIES = ("Global|0|140100", "Global|0|140101", "Global|0|140102", "Global|0|140103")
START_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
TARGET = 300_000
COPY_RATIO = 0.35  # PostgreSQL appends: the least share of the binary COPY baseline
MQTT_SERIES = SERIES[:3]
MQTT_MESSAGES = 2_000  # one flush of the MQTT worker: one store.write
MQTT_PERIOD_MS = 10_000  # a device's messages: one every 10 s
FLUSH_TARGET_MS = 50
HOUR_MS = 3_600_000
MONTH_START_MS = 1_675_209_600_000  # 2023-02-01T00:00:00Z
MONTH_END_MS = 1_677_625_200_000  # 2023-02-28T23:00:00Z: an hour before the month ends


class Batches:
    """The points of one device: `n` points over the 4 series, cut into batches of 10,000."""

    def __init__(self, n: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        per_series = n // len(SERIES)
        self.per_batch = BATCH // len(SERIES)
        minute = np.arange(per_series, dtype=np.int64) * 60_000
        self.t = [
            START_MS + minute + rng.integers(0, 5000, per_series) // 1000 * 1000 for _ in SERIES
        ]
        self.v = [np.round(rng.normal(50, 10, per_series), 1) for _ in SERIES]

    def __len__(self) -> int:
        return -(-len(self.t[0]) // self.per_batch)

    def batch(
        self, i: int, shift: float = 0.0, shuffle: np.random.Generator | None = None
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        cut = slice(i * self.per_batch, (i + 1) * self.per_batch)
        found = []
        for mapping, t, v in zip(SERIES, self.t, self.v, strict=True):
            bt, bv = t[cut], v[cut] + shift
            if shuffle is not None:
                order = shuffle.permutation(len(bt))
                bt, bv = bt[order], bv[order]
            found.append((mapping, bt, bv))
        return found

    def bodies(self, shift: float = 0.0, shuffle: np.random.Generator | None = None) -> list:
        order = range(len(self))
        if shuffle is not None:
            order = shuffle.permutation(len(self)).tolist()
        return [ingest_body(self.batch(i, shift, shuffle)) for i in order]

    def rows(self, vids: Sequence[int], shift: float = 0.0) -> list[list[tuple]]:
        """The same points as (variable_id, at, value) rows, per batch."""
        return [
            [
                row
                for vid, (_, t, v) in zip(vids, self.batch(i, shift), strict=True)
                for row in zip([vid] * len(t), t.tolist(), v.tolist(), strict=True)
            ]
            for i in range(len(self))
        ]


def send(api: Api, device: str, bodies: list[bytes], latency: Timing, server: Timing) -> int:
    path = f"/api/v1/ca/{CA}/devices/{device}/datapoints"
    accepted = 0
    for body in bodies:
        t0 = time.perf_counter()
        r = api.http.post(path, content=body, headers=api.headers)
        answer = orjson.loads(r.content)
        latency.add(time.perf_counter() - t0)
        server.add(server_ms(r) / 1000)
        if r.status_code != 200 or answer["rejected"]:
            raise RuntimeError(f"ingestion failed: {r.status_code} {r.text[:300]}")
        accepted += answer["accepted"]
    return accepted


def run_clients(
    base: str, work: list[tuple[str, list[bytes]]]
) -> tuple[float, int, Timing, Timing]:
    """Sends each (device, bodies) from its own client thread; (seconds, points, latency,
    server time)."""
    apis = [Api(base) for _ in work]
    latency, server = Timing(), Timing()
    counts = [0] * len(work)
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            counts[k] = send(apis[k], work[k][0], work[k][1], latency, server)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(work))]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    took = time.perf_counter() - t0
    for a in apis:
        a.close()
    if errors:
        raise errors[0]
    return took, sum(counts), latency, server


def baseline(url: str, batches: list[list[tuple]], upsert: bool) -> tuple[float, int]:
    """executemany of the rows into a scratch table shaped like datapoints, committed per
    batch; (seconds, rows)."""
    postgres = not url.startswith("sqlite")
    conn = connect(url)
    cur = conn.cursor()
    if postgres:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_points (variable_id integer, at bigint,"
            " value double precision, PRIMARY KEY (variable_id, at))"
        )
    else:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_points (variable_id INTEGER, at BIGINT, value FLOAT,"
            " PRIMARY KEY (variable_id, at)) WITHOUT ROWID"
        )
    conn.commit()
    mark = "%s" if postgres else "?"
    sql = f"INSERT INTO bench_points (variable_id, at, value) VALUES ({mark}, {mark}, {mark})"
    if upsert:
        sql += " ON CONFLICT (variable_id, at) DO UPDATE SET value = excluded.value"
    t0 = time.perf_counter()
    for rows in batches:
        cur.executemany(sql, rows)
        conn.commit()
    took = time.perf_counter() - t0
    cur.close()
    conn.close()
    return took, sum(len(b) for b in batches)


def copy_baseline(url: str, batches: list[list[tuple]]) -> tuple[float, int]:
    """PostgreSQL: binary COPY of the rows into a scratch table shaped like datapoints,
    committed per batch, the COPY data built before the clock starts; (seconds, rows)."""
    payloads = [copy_rows(*(np.asarray(c) for c in zip(*rows, strict=True))) for rows in batches]
    conn = connect(url)
    cur = conn.cursor()
    cur.execute(
        "CREATE TABLE IF NOT EXISTS bench_copied (variable_id integer, at bigint,"
        " value double precision, PRIMARY KEY (variable_id, at))"
    )
    conn.commit()
    t0 = time.perf_counter()
    for payload in payloads:
        with cur.copy("COPY bench_copied (variable_id, at, value) FROM STDIN (FORMAT BINARY)") as c:
            c.write(payload)
        conn.commit()
    took = time.perf_counter() - t0
    cur.close()
    conn.close()
    return took, sum(len(b) for b in batches)


def append_baseline(url: str, batches: list[list[tuple]]) -> tuple[tuple[float, int], str]:
    """The appends' baseline: executemany on SQLite, binary COPY on PostgreSQL; and its name."""
    if url.startswith("sqlite"):
        return baseline(url, batches, False), "executemany"
    return copy_baseline(url, batches), "binary COPY"


def device_vids(url: str, api: Api, device: str) -> list[int]:
    by_mapping = {v["mappingConfig"]: v["uuid"] for v in api.variables(device)}
    return variable_ids(url, [by_mapping[m] for m in SERIES])


def count_points(url: str, vids: Sequence[int]) -> int:
    conn = connect(url)
    marks = ",".join(str(int(v)) for v in vids)
    n = conn.execute(f"SELECT count(*) FROM datapoints WHERE variable_id IN ({marks})").fetchone()
    conn.close()
    return int(n[0])


def row(
    report: Report,
    name: str,
    backend: str,
    took: float,
    points: int,
    latency: Timing,
    server: Timing,
    base: tuple[float, int],
    kind: str = "executemany",
) -> None:
    rate = points / took
    base_rate = base[1] / base[0]
    copy = kind == "binary COPY"
    report.add(
        f"Ingest {name}",
        backend,
        f"{rate:,.0f} points/s ({points:,} in {took:.1f} s; batch RT p50 {latency.p50:.0f} ms,"
        f" server p50 {server.p50:.0f} ms)",
        f"{kind} {base_rate:,.0f} rows/s",
        f"{rate / base_rate:.2f}x",
        f">= 300,000 points/s{f', >= {COPY_RATIO}x COPY' if copy else ''}",
        rate >= TARGET and (not copy or rate / base_rate >= COPY_RATIO),
    )


class Flushes:
    """MQTT-like traffic from `start`: each device (a row of `vids`: its 3 variables) sends a
    message, a point of each variable, every 10 s (up to 0.5 s late); 2,000 messages a flush
    (each device 2,000 // devices times), successive flushes later in time."""

    def __init__(self, vids: np.ndarray, flushes: int, start: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.vids = vids
        self.per_flush = max(1, MQTT_MESSAGES // len(vids))
        rounds = flushes * self.per_flush
        tick = start + np.arange(rounds, dtype=np.int64) * MQTT_PERIOD_MS
        self.t = tick + rng.integers(0, 500, (len(vids), rounds))
        self.v = np.round(rng.normal(50, 10, (*vids.shape, rounds)), 1)
        self.flushes = flushes

    def batch(self, i: int) -> list:
        """The flush's points as the MQTT worker hands them to store.write."""
        from sodata.timeseries.store import SeriesPoints

        cut = slice(i * self.per_flush, (i + 1) * self.per_flush)
        return [
            SeriesPoints.of(int(vid), self.t[d, cut], self.v[d, k, cut])
            for d, device in enumerate(self.vids)
            for k, vid in enumerate(device)
        ]

    def rows(self, i: int, shift: int) -> list[tuple]:
        """The same points as (variable_id + shift, at, value) rows."""
        return [
            (int(p.variable_id) + shift, at, value)
            for p in self.batch(i)
            for at, value in zip(p.t.tolist(), p.v.tolist(), strict=True)
        ]


def history(vids: np.ndarray, start: int, end: int) -> list:
    """Points of each variable from `start` to `end`: one an hour, then one every 15 minutes in
    the last day. Their day and month rows are then as full as those of a device that sent all
    along (a row holds a record per slot or hour that has points, however many)."""
    from sodata.timeseries.store import SeriesPoints

    t = np.r_[np.arange(start, end - DAY_MS, HOUR_MS), np.arange(end - DAY_MS, end, 15 * 60_000)]
    return [SeriesPoints(int(vid), t, np.full(len(t), 50.0)) for vid in vids.ravel()]


def write_flushes(url: str, traffic: Flushes) -> tuple[float, int, Timing]:
    """Each flush written with store.write and committed as the server does; (seconds, points,
    time of each flush)."""
    from sodata.kit.db import commit_writes
    from sodata.timeseries import store

    flushes = [traffic.batch(i) for i in range(traffic.flushes)]
    timing = Timing()
    with session_on(url) as session:
        t0 = time.perf_counter()
        for batch in flushes:
            started = time.perf_counter()
            commit_writes(session, lambda writer, batch=batch: store.write(writer, batch))
            timing.add(time.perf_counter() - started)
        took = time.perf_counter() - t0
    return took, sum(len(p.t) for batch in flushes for p in batch), timing


def many_series(args: argparse.Namespace, url: str, api: Api, report: Report) -> None:
    """The many-series variant: devices of our own, flushes written with store.write here, on
    rows of the first minutes of a month, then on the full rows of a month's last hour."""
    from sodata.kit.db import commit_writes
    from sodata.timeseries import store

    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    say(f"  many series: creating {args.devices:,} devices ...")
    devices = [device for device, _ in bulk_devices(url, api.site(), args.devices, "MANY")]
    by_device = device_variable_ids(url, devices, MQTT_SERIES)
    vids = np.array([by_device[device] for device in devices])
    stored = 0
    for name, start, count, seed in (
        ("many series, month start", START_MS, args.flushes, 5),
        ("many series, month end", MONTH_END_MS, args.late_flushes, 6),
    ):
        if start == MONTH_END_MS:
            say(f"  {name}: writing the month before ...")
            filler = history(vids, MONTH_START_MS, MONTH_END_MS)
            with session_on(url) as session:
                for i in range(0, len(filler), 500):
                    chunk = filler[i : i + 500]
                    commit_writes(session, lambda writer, chunk=chunk: store.write(writer, chunk))
            stored += sum(len(p.t) for p in filler)
        traffic = Flushes(vids, count, start, seed)
        took, n, timing = write_flushes(url, traffic)
        stored += n
        assert count_points(url, vids.ravel().tolist()) == stored, "points missing"
        rows = [traffic.rows(i, seed * 10_000_000) for i in range(count)]  # ids of no variable
        base, kind = append_baseline(url, rows)
        rate, base_rate = n / took, base[1] / base[0]
        say(f"  {name}: {rate:,.0f} points/s, flush p50 {timing.p50:.1f} ms")
        report.add(
            f"Ingest {name} (store.write)",
            backend,
            f"{rate:,.0f} points/s ({n:,} in {took:.1f} s; {vids.size:,} series x"
            f" {traffic.per_flush} points a flush, flush p50 {timing.p50:.1f} ms,"
            f" p95 {timing.p95:.1f} ms)",
            f"{kind} {base_rate:,.0f} rows/s",
            f"{rate / base_rate:.2f}x",
            f"flush p50 <= {FLUSH_TARGET_MS} ms",
            timing.p50 <= FLUSH_TARGET_MS,
        )


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--points", type=int, default=1_000_000, help="points per variant")
    p.add_argument("--devices", type=int, default=1_000, help="devices of the many-series variant")
    p.add_argument("--flushes", type=int, default=50, help="flushes of the many-series variant")
    p.add_argument(
        "--late-flushes", type=int, default=10, help="its flushes in the last hour of a month"
    )
    return p


def run(args: argparse.Namespace, report: Report) -> None:
    for backend in backends(args):
        say(f"\n== Ingest on {backend}")
        with running(backend, args.workdir, args.keep, args.plain_server) as (url, server):
            api = server.client()
            site = api.site()
            devices = [api.device(site) for _ in range(3)]
            vids = [device_vids(url, api, d) for d in devices]

            say(f"  encoding {args.points:,} points per variant ...")
            single = Batches(args.points, seed=1)
            halves = [Batches(args.points // 2, seed=2), Batches(args.points // 2, seed=3)]

            took, n, latency, server_t = run_clients(server.base, [(devices[0], single.bodies())])
            assert count_points(url, vids[0]) == n, "points missing after the append"
            base, kind = append_baseline(
                url, single.rows([1_000_001 + k for k in range(len(SERIES))])
            )
            say(f"  append 1 client: {n / took:,.0f} points/s; baseline {base[1] / base[0]:,.0f}")
            row(report, "append, 1 client", backend, took, n, latency, server_t, base, kind)

            work = [(devices[1 + k], halves[k].bodies()) for k in range(2)]
            took, n, latency, server_t = run_clients(server.base, work)
            assert count_points(url, vids[1] + vids[2]) == n, "points missing after the append"
            base_rows = [
                r
                for k in range(2)
                for r in halves[k].rows([2_000_001 + 10 * k + j for j in range(len(SERIES))])
            ]
            base, kind = append_baseline(url, base_rows)
            say(f"  append 2 clients: {n / took:,.0f} points/s")
            row(report, "append, 2 clients", backend, took, n, latency, server_t, base, kind)

            shuffle = np.random.default_rng(4)
            bodies = single.bodies(shift=1.0, shuffle=shuffle)
            took, n, latency, server_t = run_clients(server.base, [(devices[0], bodies)])
            assert count_points(url, vids[0]) == n, "an overwrite added points"
            base_rows = single.rows([1_000_001 + k for k in range(len(SERIES))], shift=1.0)
            shuffle.shuffle(base_rows)
            base = baseline(url, base_rows, True)
            say(f"  overwrite: {n / took:,.0f} points/s")
            row(report, "overwrite, out of order", backend, took, n, latency, server_t, base)

            many_series(args, url, api, report)
            api.close()


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
