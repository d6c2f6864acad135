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

Target: >= 300,000 points/s.
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
    Api,
    Report,
    Timing,
    backends,
    connect,
    ingest_body,
    parser,
    running,
    say,
    server_ms,
    variable_ids,
)

SERIES = ("Global|0|140100", "Global|0|140101", "Global|0|140102", "Global|0|140103")
START_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
TARGET = 300_000


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
) -> None:
    rate = points / took
    base_rate = base[1] / base[0]
    report.add(
        f"Ingest {name}",
        backend,
        f"{rate:,.0f} points/s ({points:,} in {took:.1f} s; batch RT p50 {latency.p50:.0f} ms,"
        f" server p50 {server.p50:.0f} ms)",
        f"executemany {base_rate:,.0f} rows/s",
        f"{rate / base_rate:.2f}x",
        ">= 300,000 points/s",
        rate >= TARGET,
    )


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--points", type=int, default=1_000_000, help="points per variant")
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
            base = baseline(url, single.rows([1_000_001 + k for k in range(len(SERIES))]), False)
            say(f"  append 1 client: {n / took:,.0f} points/s; baseline {base[1] / base[0]:,.0f}")
            row(report, "append, 1 client", backend, took, n, latency, server_t, base)

            work = [(devices[1 + k], halves[k].bodies()) for k in range(2)]
            took, n, latency, server_t = run_clients(server.base, work)
            assert count_points(url, vids[1] + vids[2]) == n, "points missing after the append"
            base_rows = [
                r
                for k in range(2)
                for r in halves[k].rows([2_000_001 + 10 * k + j for j in range(len(SERIES))])
            ]
            base = baseline(url, base_rows, False)
            say(f"  append 2 clients: {n / took:,.0f} points/s")
            row(report, "append, 2 clients", backend, took, n, latency, server_t, base)

            shuffle = np.random.default_rng(4)
            bodies = single.bodies(shift=1.0, shuffle=shuffle)
            took, n, latency, server_t = run_clients(server.base, [(devices[0], bodies)])
            assert count_points(url, vids[0]) == n, "an overwrite added points"
            base_rows = single.rows([1_000_001 + k for k in range(len(SERIES))], shift=1.0)
            shuffle.shuffle(base_rows)
            base = baseline(url, base_rows, True)
            say(f"  overwrite: {n / took:,.0f} points/s")
            row(report, "overwrite, out of order", backend, took, n, latency, server_t, base)
            api.close()


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
