"""Raw year: all 525,600 raw points of one series (a year of one-minute points) read through
the HTTP API across every page.

The year is loaded as in q_agg (HTTP ingestion in batches of 10,000; --load direct: store.write
in this process). Then PUT /api/v1/ca/{ca}/datapoints, granularity raw, the Paris year, take
100,000, following each answer's nextAfter until it is null (6 requests); the time is the whole
loop, decoding every answer with orjson included, and the server-side time is the sum of the
answers' Server-Timing. The points are checked: 525,600, in order, first and last as loaded.

Baseline: a plain SELECT at, value ... WHERE variable_id = ? AND at >= ? AND at < ? ORDER BY
at of the same rows, fetched by the driver (sqlite3 / psycopg) in this process.

Target: <= 1.5 s for the whole year.
"""

from __future__ import annotations

import argparse
import time

import orjson

from bench.common import (
    CA,
    YEAR_END_MS,
    YEAR_MINUTES,
    YEAR_START_MS,
    ZONE,
    Report,
    Timing,
    backends,
    connect,
    parser,
    running,
    say,
    server_ms,
)
from bench.q_agg import setup_year


def read_year(api, device: str, mapping: str, take: int) -> tuple[float, float, int, int, str, str]:
    """(seconds, server seconds, requests, points, first at, last at)."""
    body = {
        "from": "2023-01-01T00:00:00Z",
        "to": "2024-01-01T00:00:00Z",
        "timezone": ZONE,
        "useDeviceLocalTimezone": False,
        "granularity": "raw",
        "take": take,
        "series": [{"deviceUuid": device, "mappingConfig": mapping}],
    }
    path = f"/api/v1/ca/{CA}/datapoints"
    points = requests = 0
    server = 0.0
    first = last = ""
    t0 = time.perf_counter()
    while True:
        r = api.http.put(path, content=orjson.dumps(body), headers=api.headers)
        answer = orjson.loads(r.content)
        if r.status_code != 200:
            raise RuntimeError(f"{r.status_code} {r.text[:300]}")
        server += server_ms(r) / 1000
        requests += 1
        series = answer["series"][0]
        data = series["data"]
        points += len(data)
        if data:
            first = first or data[0]["at"]
            last = data[-1]["at"]
        if series["nextAfter"] is None:
            break
        body["series"][0]["after"] = series["nextAfter"]
    return time.perf_counter() - t0, server, requests, points, first, last


def baseline(url: str, vid: int) -> tuple[float, int]:
    conn = connect(url)
    try:
        t0 = time.perf_counter()
        cur = conn.cursor()
        cur.execute(
            "SELECT at, value FROM datapoints WHERE variable_id = {0} AND at >= {0} AND at < {0}"
            " ORDER BY at".format("%s" if not url.startswith("sqlite") else "?"),
            (vid, YEAR_START_MS, YEAR_END_MS),
        )
        n = len(cur.fetchall())
        took = time.perf_counter() - t0
        cur.close()
    finally:
        conn.close()
    return took, n


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--repeat", type=int, default=5, help="full reads of the year")
    p.add_argument("--take", type=int, default=100_000, help="points per page (max 100,000)")
    p.add_argument("--load", choices=["http", "direct"], default="http")
    p.add_argument(
        "--analyze",
        action="store_true",
        help="PostgreSQL: ANALYZE after loading (as autovacuum does, in time); without it the\n"
        "planner has no statistics for the points just sent",
    )
    return p


def run(args: argparse.Namespace, report: Report) -> None:
    for backend in backends(args):
        say(f"\n== Raw year on {backend}")
        with running(backend, args.workdir, args.keep, args.plain_server) as (url, server):
            api = server.client()
            device, mapping, vid = setup_year(url, api, args.load)
            if args.analyze and not url.startswith("sqlite"):
                conn = connect(url)
                conn.execute("ANALYZE")
                conn.commit()
                conn.close()
            read_year(api, device, mapping, args.take)  # warm-up
            wall, on_server = Timing(), Timing()
            pages = 0
            for _ in range(args.repeat):
                took, server_s, pages, n, first, last = read_year(api, device, mapping, args.take)
                assert n == YEAR_MINUTES, n
                assert first == "2022-12-31T23:00:00Z" and last == "2023-12-31T22:59:00Z", (
                    first,
                    last,
                )
                wall.add(took)
                on_server.add(server_s)
            say(f"  HTTP, {pages} pages of {args.take:,}: {wall}")
            say(f"  server-side (sum of Server-Timing): {on_server}")
            base = Timing()
            for _ in range(args.repeat):
                took, n = baseline(url, vid)
                assert n == YEAR_MINUTES
                base.add(took)
            say(f"  baseline SELECT: {base}")
            report.add(
                "Raw year (525,600 points, all pages)",
                backend,
                f"{wall.p50 / 1000:.2f} s p50 ({pages} pages; server {on_server.p50 / 1000:.2f} s)",
                f"SELECT {base.p50 / 1000:.2f} s",
                f"{wall.p50 / base.p50:.1f}x the SELECT",
                "<= 1.5 s",
                wall.p50 <= 1500,
            )
            api.close()


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
