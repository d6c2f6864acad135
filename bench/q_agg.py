"""Q-agg: daily avg and daily stdev of one year of one-minute points (525,600), in Europe/Paris.

One series of 525,600 one-minute points (the Paris year 2023) on a device of our own, loaded
through the HTTP ingestion API in batches of 10,000 (--load direct: with
sodata.timeseries.store.write in this process, on the same database, while the server is up).

Measured (same database, same run):
- HTTP: PUT /api/v1/ca/{ca}/datapoints, granularity day, timezone Europe/Paris,
  useDeviceLocalTimezone false, the year; client round trip p50/p95 (orjson decode included).
  Variants: avg alone, stdev alone, both as two series of one request.
- server-side time: the Server-Timing header that bench.timed_server adds (the time inside the
  ASGI application: routing, authentication, validation, the endpoint, serialization). With
  --plain-server (`python -m sodata serve` itself), estimated as round trip p50 - the p50 of the
  trivial request GET /realms/sodata (no auth, no database). Both are printed, with the
  authenticated GET /api/v1/ca/{ca} for scale.
- in-process: sodata.datapoints.service.run_query (a new session per call, orjson of the
  answer included: what the endpoint does minus HTTP) and sodata.timeseries.query.aggregate alone.
- baseline: one GROUP BY over the raw rows of the same series in the same database computing the
  same daily figures. PostgreSQL: date_trunc('day', to_timestamp(at / 1000.0) AT TIME ZONE
  'Europe/Paris') with avg() and stddev_samp(). SQLite (no time zones): the day of
  at + the Paris UTC offset (a CASE over the year's offset changes, found with zoneinfo), with
  avg() and the sample stdev from sum and sum of squares (sqrt in SQL).
  The baseline's answers are checked equal to the API's.

Targets: server-side p50 <= 10 ms, and >= 10x faster than the baseline.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import numpy as np
import orjson

from bench.common import (
    CA,
    YEAR_END_MS,
    YEAR_START_MS,
    ZONE,
    Api,
    Report,
    Timing,
    backends,
    connect,
    http_timed,
    load_year_direct,
    load_year_http,
    paris_offsets,
    parser,
    running,
    say,
    session_on,
    variable_ids,
    year_query,
    year_series,
)

VARIANTS = {"avg": ["avg"], "stdev": ["stdev"], "avg+stdev": ["avg", "stdev"]}


def baseline_sql(postgres: bool, aggregations: list[str]) -> str:
    if postgres:
        columns = {"avg": "avg(value)", "stdev": "stddev_samp(value)"}
        return (
            "SELECT date_trunc('day', to_timestamp(at / 1000.0) AT TIME ZONE 'Europe/Paris') AS d, "
            + ", ".join(columns[a] for a in aggregations)
            + " FROM datapoints WHERE variable_id = %s AND at >= %s AND at < %s"
            " GROUP BY d ORDER BY d"
        )
    pieces = paris_offsets(YEAR_START_MS - 86_400_000, YEAR_END_MS + 86_400_000)
    case = "CASE" + "".join(
        f" WHEN at < {b} THEN {o}" for (b, _), (_, o) in zip(pieces[1:], pieces[:-1], strict=True)
    )
    case += f" ELSE {pieces[-1][1]} END"
    columns = {
        "avg": "avg(value)",
        "stdev": "sqrt((sum(value * value) - sum(value) * sum(value) / count(*)) / (count(*) - 1))",
    }
    return (
        f"SELECT (at + {case}) / 86400000 AS d, "
        + ", ".join(columns[a] for a in aggregations)
        + " FROM datapoints WHERE variable_id = ? AND at >= ? AND at < ? GROUP BY d ORDER BY d"
    )


class QAgg:
    """The year query of one series, measured every way on a running server."""

    def __init__(self, url: str, api: Api, device: str, mapping: str, vid: int) -> None:
        self.url, self.api, self.device, self.mapping, self.vid = url, api, device, mapping, vid
        self.postgres = not url.startswith("sqlite")

    def body(self, aggregations: list[str]) -> dict:
        return year_query(
            [
                {"deviceUuid": self.device, "mappingConfig": self.mapping, "aggregation": a}
                for a in aggregations
            ]
        )

    def http(self, aggregations: list[str], repeat: int) -> tuple[Timing, Timing, dict]:
        content = orjson.dumps(self.body(aggregations))
        return http_timed(self.api, "PUT", f"/api/v1/ca/{CA}/datapoints", content, repeat)

    def trivial(self, repeat: int) -> tuple[Timing, Timing]:
        """GET /realms/sodata: no authentication, no database."""
        rt, server, _ = http_timed(self.api, "GET", "/realms/sodata", None, repeat)
        return rt, server

    def authenticated(self, repeat: int) -> tuple[Timing, Timing]:
        """GET /api/v1/ca/{ca}: authentication and one object read."""
        rt, server, _ = http_timed(self.api, "GET", f"/api/v1/ca/{CA}", None, repeat)
        return rt, server

    def in_process(self, aggregations: list[str], repeat: int) -> tuple[Timing, Timing]:
        """(run_query + orjson, query.aggregate alone) on sessions of this process."""
        from sqlalchemy import select

        from sodata.access.principal import Principal
        from sodata.datapoints.schemas import DatapointsQuery
        from sodata.datapoints.service import run_query
        from sodata.kit.db import make_sessionmaker
        from sodata.models import CorporateAccount
        from sodata.timeseries import query, store
        from sodata.timeseries.calendar import zone

        body = DatapointsQuery.model_validate(self.body(aggregations))
        principal = Principal(user_id=None, superuser=True)
        ca_uuid = uuid.UUID(CA)
        with session_on(self.url) as first:
            factory = make_sessionmaker(first.get_bind())

            def service_call() -> Any:  # what the endpoint does, from the corporate account on
                with factory() as session:
                    ca = session.scalar(
                        select(CorporateAccount).where(CorporateAccount.uuid == ca_uuid)
                    )
                    return orjson.dumps(run_query(session, principal, ca, body))

            full = Timing()
            full.measure(service_call, repeat, warmup=3)

            tz = zone(ZONE)

            def engine_call() -> Any:
                with factory() as session:
                    db = store.Db(session)
                    for a in aggregations:
                        query.aggregate(
                            db, self.vid, YEAR_START_MS, YEAR_END_MS, None, 100_000, "day", a, tz
                        )

            engine = Timing()
            engine.measure(engine_call, repeat, warmup=3)
        return full, engine

    def baseline(self, aggregations: list[str], repeat: int) -> tuple[Timing, list[tuple]]:
        sql = baseline_sql(self.postgres, aggregations)
        conn = connect(self.url)
        try:
            params = (self.vid, YEAR_START_MS, YEAR_END_MS)

            def run() -> list[tuple]:
                cur = conn.cursor()
                cur.execute(sql, params)
                rows = cur.fetchall()
                cur.close()
                return rows

            timing = Timing()
            rows = timing.measure(run, repeat, warmup=2)
            if self.postgres:
                conn.rollback()
        finally:
            conn.close()
        return timing, rows

    def check(self, answer: dict, rows: list[tuple], aggregations: list[str]) -> None:
        """The API's buckets equal the baseline's."""
        assert all(len(s["data"]) == len(rows) for s in answer["series"]), (
            [len(s["data"]) for s in answer["series"]],
            len(rows),
        )
        for k, series in enumerate(answer["series"]):
            api = np.array([p["value"] for p in series["data"]], dtype=np.float64)
            base = np.array([r[1 + k] for r in rows], dtype=np.float64)
            assert np.allclose(api, base, rtol=1e-7, atol=1e-9), (
                aggregations[k],
                api[:3],
                base[:3],
            )


def measure(q: QAgg, report: Report, backend: str, repeat: int, label: str = "Q-agg") -> dict:
    """Every variant, over HTTP, in process and as the baseline; rows in `report`. Returns the
    figures (ms) of each variant."""
    trivial_rt, trivial_server = q.trivial(repeat)
    say(f"  trivial GET /realms/sodata        RT {trivial_rt}")
    say(f"                                    server {trivial_server}")
    auth_rt, auth_server = q.authenticated(repeat)
    say(f"  authenticated GET /api/v1/ca/{{ca}} RT {auth_rt}")
    say(f"                                    server {auth_server}")
    found = {}
    for name, aggregations in VARIANTS.items():
        rt, server_timing, answer = q.http(aggregations, repeat)
        full, engine = q.in_process(aggregations, max(20, repeat // 4))
        base, rows = q.baseline(aggregations, max(5, repeat // 20))
        q.check(answer, rows, aggregations)
        estimated = max(rt.p50 - trivial_rt.p50, 0.0)
        measured = server_timing.samples and not np.isnan(server_timing.samples[0])
        server = server_timing.p50 if measured else estimated
        how = "Server-Timing" if measured else "RT - trivial"
        say(f"  [{name}] HTTP round trip        {rt}")
        if measured:
            say(f"  [{name}] server (Server-Timing) {server_timing}")
        say(f"  [{name}] RT p50 - trivial RT p50: {estimated:.2f} ms")
        say(f"  [{name}] in-process run_query   {full}")
        say(f"  [{name}] in-process aggregate() {engine}")
        say(f"  [{name}] baseline GROUP BY      {base}")
        say(f"  [{name}] {len(rows)} buckets, equal to the baseline's")
        met = server <= 10 and base.p50 / max(server, 1e-3) >= 10
        report.add(
            f"{label} daily {name} (year, Paris)",
            backend,
            f"server p50 {server:.1f} ms ({how}); RT p50 {rt.p50:.1f} / p95 {rt.p95:.1f} ms; "
            f"in-process run_query {full.p50:.1f}, aggregate() {engine.p50:.1f} ms",
            f"GROUP BY p50 {base.p50:.0f} ms",
            f"{base.p50 / max(server, 1e-3):.0f}x server, {base.p50 / rt.p50:.0f}x RT",
            "server p50 <= 10 ms and >= 10x",
            met,
        )
        found[name] = {
            "rt": rt.p50,
            "server": server,
            "in_process": full.p50,
            "engine": engine.p50,
            "baseline": base.p50,
        }
    return found


def setup_year(url: str, api: Api, load: str) -> tuple[str, str, int]:
    """A device with the year series in Global|0|140100: (device uuid, mapping, variable id)."""
    site = api.site()
    device = api.device(site)
    variable = next(v for v in api.variables(device) if v["mappingConfig"] == "Global|0|140100")
    vid = variable_ids(url, [variable["uuid"]])[0]
    t, v = year_series()
    if load == "http":
        took = load_year_http(api, device, variable["mappingConfig"], t, v)
        say(
            f"  loaded {len(t):,} points through HTTP in {took:.1f} s ({len(t) / took:,.0f} points/s)"
        )
    else:
        took = load_year_direct(url, vid, t, v)
        say(f"  loaded {len(t):,} points with store.write in {took:.1f} s")
    return device, variable["mappingConfig"], vid


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--repeat", type=int, default=200, help="HTTP repetitions per variant")
    p.add_argument(
        "--load",
        choices=["http", "direct"],
        default="http",
        help="load the year through HTTP ingestion (default) or store.write in-process",
    )
    return p


def run(args: argparse.Namespace, report: Report) -> None:
    for backend in backends(args):
        say(f"\n== Q-agg on {backend}")
        with running(backend, args.workdir, args.keep, args.plain_server) as (url, server):
            api = server.client()
            device, mapping, vid = setup_year(url, api, args.load)
            time.sleep(1)
            measure(QAgg(url, api, device, mapping, vid), report, backend, args.repeat)
            api.close()


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
