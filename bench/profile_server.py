"""Where a request's server-side time goes: the sodata application in this process, driven
through httpx's ASGI transport (no socket, no uvicorn), with every sync endpoint and dependency
run on the event loop's thread instead of the thread pool, so that one cProfile sees the whole
request (routing, authentication, validation, the endpoint, serialization).

    python -m bench.profile_server qagg|raw|ingest|auth [--backend postgresql] [--requests N]

qagg: the Q-agg request (daily avg + stdev of the Paris year, 525,600 points); raw: one page of
100,000 raw points; ingest: batches of 10,000 points (4 series, appended); auth: GET
/api/v1/ca/{ca} (authentication and one read). Prints the mean time per request, then the
profile (by own time and by cumulative time); --out FILE keeps it for snakeviz/pstats.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import time
from typing import Any

import anyio.to_thread
import httpx
import orjson

from bench.common import (
    CA,
    YEAR_FROM,
    YEAR_TO,
    ZONE,
    database,
    load_year_direct,
    variable_ids,
    year_query,
    year_series,
)
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import ADMIN_EMAIL, MASTERYS_TYPE


async def _inline(func: Any, *args: Any, **_: Any) -> Any:
    return func(*args)


async def scenario(url: str, name: str, requests: int, out: str | None, gc_mode: str) -> None:
    from sodata.app import create_app
    from sodata.config import Settings

    app = create_app(Settings(database_url=url, demo=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=600) as c:
        token = (
            await c.post(
                "/realms/sodata/protocol/openid-connect/token",
                data={
                    "grant_type": "password",
                    "client_id": DEMO_CLIENT_ID,
                    "client_secret": DEMO_CLIENT_SECRET,
                    "username": ADMIN_EMAIL,
                    "password": DEMO_PASSWORD,
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

        async def call(method: str, path: str, body: Any = None, content: bytes | None = None):
            if body is not None:
                content = orjson.dumps(body)
            r = await c.request(method, path, content=content, headers=headers)
            if r.status_code >= 300:
                raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
            return r

        customer = (await call("POST", f"/api/v1/ca/{CA}/customers", {"name": "P"})).json()
        site = (
            await call(
                "POST",
                f"/api/v1/ca/{CA}/sites",
                {"name": "P", "customerUuid": customer["uuid"], "timeZone": ZONE},
            )
        ).json()
        device = (
            await call(
                "POST",
                f"/api/v1/ca/{CA}/devices",
                {
                    "name": "P",
                    "serialNumber": "PROFILE-1",
                    "siteUuid": site["uuid"],
                    "deviceTypeUid": str(MASTERYS_TYPE),
                },
            )
        ).json()["uuid"]
        variables = (await call("GET", f"/api/v1/ca/{CA}/devices/{device}/variables")).json()
        rows = variables["results"] if isinstance(variables, dict) else variables
        uuid_of = {f"{v['itemType']}|{v['itemIndex']}|{v['serviceId']}": v["uuid"] for v in rows}
        mapping = "Global|0|140100"
        if name in ("qagg", "raw"):
            t, v = year_series()
            load_year_direct(url, variable_ids(url, [uuid_of[mapping]])[0], t, v)

        if name == "qagg":
            content = orjson.dumps(
                year_query(
                    [
                        {"deviceUuid": device, "mappingConfig": mapping, "aggregation": a}
                        for a in ("avg", "stdev")
                    ]
                )
            )
            work = [("PUT", f"/api/v1/ca/{CA}/datapoints", content)] * requests
        elif name == "raw":
            content = orjson.dumps(
                {
                    "from": YEAR_FROM,
                    "to": YEAR_TO,
                    "timezone": ZONE,
                    "granularity": "raw",
                    "series": [{"deviceUuid": device, "mappingConfig": mapping}],
                }
            )
            work = [("PUT", f"/api/v1/ca/{CA}/datapoints", content)] * requests
        elif name == "ingest":
            from bench.ingest import Batches

            batches = Batches(requests * 10_000, seed=1)
            path = f"/api/v1/ca/{CA}/devices/{device}/datapoints"
            work = [("POST", path, body) for body in batches.bodies()]
        else:
            work = [("GET", f"/api/v1/ca/{CA}", None)] * requests

        for method, path, content in work[:3]:  # warm-up (ingest: the first batches)
            await call(method, path, content=content)
        work = work[3:] if name == "ingest" else work
        if gc_mode == "freeze":  # what the server has built so far: never collected again
            gc.freeze()
        elif gc_mode == "off":
            gc.disable()
        half = len(work) // 2 if name == "ingest" else len(work)
        t0 = time.perf_counter()
        for method, path, content in work[:half]:
            await call(method, path, content=content)
        plain = (time.perf_counter() - t0) / half
        work = work[half:] if name == "ingest" else work
        profile = cProfile.Profile()
        t0 = time.perf_counter()
        profile.enable()
        for method, path, content in work:
            await call(method, path, content=content)
        profile.disable()
        took = (time.perf_counter() - t0) / len(work)
    print(
        f"{name}: {plain * 1000:.1f} ms per request, {took * 1000:.1f} ms profiled "
        f"(gc {gc_mode}, ASGI in-process, no socket)"
    )
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    if out:
        profile.dump_stats(out)
        print(f"profile written to {out}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("scenario", choices=["qagg", "raw", "ingest", "auth"])
    p.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--requests", type=int, default=50)
    p.add_argument("--out", default=None)
    p.add_argument("--gc", choices=["on", "off", "freeze"], default="on", help="garbage collector")
    args = p.parse_args()
    anyio.to_thread.run_sync = _inline  # sync endpoints on this thread: one profile sees all
    with database(args.backend) as url:
        from sodata.cli.server import prepare_database

        prepare_database(url, demo=True)
        asyncio.run(scenario(url, args.scenario, args.requests, args.out, args.gc))


if __name__ == "__main__":
    main()
