"""Flatness: the Q-agg query (daily avg and daily stdev of the Paris year, one request of two
series) with 1,000,000 points stored, and with --points stored (default 10,000,000; the issue's
figure is 100,000,000: `--points 100000000`).

Two databases of the same backend, each with its own server, made the same way: a device of our
own with the year series (525,600 one-minute points, HTTP ingestion in batches of 10,000), the
demo's history removed (so the counts are exact), then filler series on other variables of
other devices of ours, up to the number of points asked for. Filler series are years of one-minute
points written with sodata.timeseries.store.write in this process, one series per transaction
(so their rollups are made as the server makes them: SQLite executemany, PostgreSQL binary
COPY); the last one is cut short to hit the count exactly. Then the SQLite WAL is checkpointed
(PostgreSQL: VACUUM ANALYZE), and the same query is measured on both servers in alternating
rounds, so that a noisy neighbour weighs on both alike.

Reported: server-side p50 (Server-Timing), round-trip p50, in-process query.aggregate() p50 and
the baseline GROUP BY (see q_agg) at both sizes, and their ratios big / small.
Target: server-side p50 with the big database <= 1.5 x the small one's.

Disk: about 30 bytes a point on SQLite (3 GB for 100M), 80 on PostgreSQL.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack

import numpy as np

from bench.common import (
    MINUTE_MS,
    YEAR_MINUTES,
    YEAR_START_MS,
    Api,
    Report,
    Timing,
    backends,
    checkpoint,
    connect,
    database_size,
    parser,
    running,
    say,
    session_on,
    variable_ids,
)
from bench.q_agg import QAgg, setup_year

SMALL = 1_000_000
AGGREGATIONS = ["avg", "stdev"]


def clear_demo_history(url: str, keep: int) -> None:
    conn = connect(url)
    cur = conn.cursor()
    mark = "?" if url.startswith("sqlite") else "%s"
    for table in ("datapoints", "rollups", "last_values"):
        cur.execute(f"DELETE FROM {table} WHERE variable_id <> {mark}", (keep,))
    conn.commit()
    cur.close()
    conn.close()


def count(url: str) -> int:
    conn = connect(url)
    n = int(conn.execute("SELECT count(*) FROM datapoints").fetchone()[0])
    conn.close()
    return n


def settle(url: str) -> None:
    """Checkpoint SQLite's WAL into the database file; VACUUM ANALYZE on PostgreSQL."""
    if url.startswith("sqlite"):
        checkpoint(url)
        return
    conn = connect(url)
    conn.autocommit = True
    conn.execute("VACUUM ANALYZE")
    conn.close()


class Filler:
    """Variables of devices of ours to fill, a year of one-minute points each."""

    def __init__(self, url: str, api: Api) -> None:
        self.url, self.api = url, api
        self.site = api.site()
        self.free: list[int] = []
        self.series = 0

    def _variable(self) -> int:
        if not self.free:
            device = self.api.device(self.site)
            self.free = variable_ids(self.url, [v["uuid"] for v in self.api.variables(device)])
        return self.free.pop()

    def fill(self, points: int) -> None:
        from sodata.timeseries import store

        t0 = time.perf_counter()
        written = 0
        with session_on(self.url) as session:
            while written < points:
                n = min(YEAR_MINUTES, points - written)
                rng = np.random.default_rng(1000 + self.series)
                t = YEAR_START_MS + np.arange(n, dtype=np.int64) * MINUTE_MS
                v = np.round(rng.normal(230, 5, n), 1)
                store.write(session, [store.SeriesPoints(self._variable(), t, v)])
                session.commit()
                written += n
                self.series += 1
                if self.series % 20 == 0:
                    took = time.perf_counter() - t0
                    say(
                        f"    {written:,} filler points in {took:.0f} s "
                        f"({written / took:,.0f} points/s)"
                    )
        took = time.perf_counter() - t0
        if points:
            say(f"  filled {points:,} points in {took:.1f} s ({points / took:,.0f} points/s)")


def prepare(url: str, api: Api, total: int, load: str) -> QAgg:
    device, mapping, vid = setup_year(url, api, load)
    clear_demo_history(url, vid)
    Filler(url, api).fill(total - count(url))
    settle(url)
    n = count(url)
    assert n == total, n
    say(f"  {n:,} points stored; database {database_size(url)}")
    return QAgg(url, api, device, mapping, vid)


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--points", type=int, default=10_000_000, help="points stored, big database")
    p.add_argument("--repeat", type=int, default=200, help="HTTP repetitions per database")
    p.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    p.add_argument("--load", choices=["http", "direct"], default="http")
    return p


def run(args: argparse.Namespace, report: Report) -> None:
    for backend in backends(args):
        say(f"\n== Flatness on {backend}: {SMALL:,} vs {args.points:,} points stored")
        with ExitStack() as stack:
            sizes = {"small": SMALL, "big": args.points}
            queries: dict[str, QAgg] = {}
            for name, total in sizes.items():
                say(f"  -- {name}: {total:,} points")
                url, server = stack.enter_context(
                    running(backend, args.workdir, args.keep, args.plain_server)
                )
                api = server.client()
                stack.callback(api.close)
                queries[name] = prepare(url, api, total, args.load)
            rt = {name: Timing() for name in sizes}
            on_server = {name: Timing() for name in sizes}
            engine = {name: Timing() for name in sizes}
            base = {name: Timing() for name in sizes}
            chunk = max(1, args.repeat // args.rounds)
            for r in range(args.rounds):
                for name, q in queries.items():
                    a, b, _ = q.http(AGGREGATIONS, chunk)
                    rt[name].samples += a.samples
                    on_server[name].samples += b.samples
                    _, e = q.in_process(AGGREGATIONS, max(5, chunk // 4))
                    engine[name].samples += e.samples
                    bt, _ = q.baseline(AGGREGATIONS, 2 if r < args.rounds - 1 else 3)
                    base[name].samples += bt.samples
            for name in sizes:
                say(f"  [{name}] RT          {rt[name]}")
                say(f"  [{name}] server      {on_server[name]}")
                say(f"  [{name}] aggregate() {engine[name]}")
                say(f"  [{name}] GROUP BY    {base[name]}")
            ratio = on_server["big"].p50 / on_server["small"].p50
            report.add(
                f"Flatness: Q-agg daily avg+stdev, {SMALL / 1e6:.0f}M vs "
                f"{args.points / 1e6:g}M points stored",
                backend,
                f"server p50 {on_server['small'].p50:.1f} -> {on_server['big'].p50:.1f} ms "
                f"(RT {rt['small'].p50:.1f} -> {rt['big'].p50:.1f}; aggregate() "
                f"{engine['small'].p50:.1f} -> {engine['big'].p50:.1f} ms)",
                f"GROUP BY {base['small'].p50:.0f} -> {base['big'].p50:.0f} ms",
                f"{ratio:.2f}x (RT {rt['big'].p50 / rt['small'].p50:.2f}x, aggregate() "
                f"{engine['big'].p50 / engine['small'].p50:.2f}x)",
                "<= 1.5x",
                ratio <= 1.5,
            )


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
