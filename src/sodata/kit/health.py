"""Operations endpoints, outside /api/v1 and without authentication, for load balancers,
orchestrators and monitoring (README, "Database outage", "Metrics and logs"):

- `GET /health`: 200 {"status": "ok"} while the process serves HTTP; no database access.
- `GET /ready`: 200 {"status": "ready", ...} when the database answers `SELECT 1` within
  READY_SECONDS, else 503 with Retry-After in the API's error shape.
- `GET /metrics`: the metrics of every process of the server in Prometheus' text format
  (kit/metrics.py), read in a thread of its own; for the monitoring's network only (a proxy
  facing the internet should not pass it on).

None takes a turn of the admission (kit/admission.py) or counts against a rate limit:
`PastTheTurns`, a middleware outside the admission, answers them itself, so /health answers
even when every turn is taken and its queue is full, /metrics shows the queue then, and /ready
tells whether the database answers, not whether the server is busy (a busy server sheds load
by its own 503s; taking it out of a load balancer for that would only move its load to the
others). /ready probes on a connection of its own (a pool of one, in a thread of its own), so
it neither waits for the requests' connections nor takes theirs, and concurrent probes share
that one connection in turn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Receive, Scope, Send

from sodata.kit import metrics
from sodata.kit.db import make_engine
from sodata.kit.errors import RETRY_AFTER_HEADER, RETRY_AFTER_SECONDS, ErrorBody
from sodata.kit.handlers import error_response

log = logging.getLogger(__name__)

READY_SECONDS = 2.0  # the longest a /ready answer waits for the database
TAG = {
    "name": "Operations",
    "description": "Liveness and readiness of the server, for load balancers and orchestrators; "
    "no authentication.",
}


class Health(BaseModel):
    status: str = "ok"


class Ready(BaseModel):
    status: str = "ready"
    database: str  # the database's kind: sqlite or postgresql
    latencyMs: float  # how long SELECT 1 took


class PastTheTurns:
    """ASGI middleware, outside the admission: answers GET of `routes` itself with their
    endpoints, past the admission's turns, queue and body reading (the routes, which answer the
    same, are there for the OpenAPI document and any stack without this middleware). It sets
    the scope's route as the router would (for the metrics' route label)."""

    def __init__(self, app: ASGIApp, *, routes: list[APIRoute]):
        self.app = app
        self.routes = {route.path: route for route in routes}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        answer: Callable[[], Awaitable[Response]] = route.endpoint
        await (await answer())(scope, receive, send)


class Probe:
    """`SELECT 1` on a pool of one connection of its own (pre-pinged on PostgreSQL, so the first
    probe after an outage reconnects), in a thread of its own, answered within READY_SECONDS."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url.render_as_string(hide_password=False)
        self.kind = engine.dialect.name
        self.engine = make_engine(url, connections=1, wait=READY_SECONDS)
        self._thread = anyio.CapacityLimiter(1)  # a probe that hangs holds it: others time out
        self._down_since: float | None = None

    def _select_one(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1").scalar()

    async def check(self) -> float | str:
        """The seconds SELECT 1 took, or why it did not answer."""
        started = time.monotonic()
        try:
            with anyio.fail_after(READY_SECONDS):
                await anyio.to_thread.run_sync(
                    self._select_one, limiter=self._thread, abandon_on_cancel=True
                )
        except TimeoutError:
            return f"no answer to SELECT 1 within {READY_SECONDS:g} s"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return reason[0][:200] if reason else type(exc).__name__
        return time.monotonic() - started

    def report(self, outcome: float | str) -> None:
        """Logs the changes only: not ready (and why), ready again (after how long)."""
        if isinstance(outcome, str) and self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("not ready: the database is unavailable (%s)", outcome)
        elif not isinstance(outcome, str) and self._down_since is not None:
            down, self._down_since = time.monotonic() - self._down_since, None
            log.warning("ready again: the database answers (unavailable for %.1f s)", down)


def install(app: FastAPI) -> None:
    """The three endpoints, their middleware and their tag. Call it after the admission's
    add_middleware, so that this middleware is the outer one."""
    probe = Probe(app.state.sessionmaker.kw["bind"])
    scraping = anyio.CapacityLimiter(1)  # one scrape at a time, in a thread of its own
    app.openapi_tags = [*(app.openapi_tags or []), TAG]
    unavailable: dict[int | str, dict[str, Any]] = {
        503: {
            "model": ErrorBody,
            "description": "The database is unavailable (no answer to SELECT 1 within "
            f"{READY_SECONDS:g} s): retry after the Retry-After header's seconds",
            "headers": {"Retry-After": RETRY_AFTER_HEADER},
        }
    }

    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    async def ready() -> Response:
        outcome = await probe.check()
        probe.report(outcome)
        if isinstance(outcome, str):
            # why (the driver's words, naming the database's host) is in the log only
            message = f"The database is unavailable; retry after {RETRY_AFTER_SECONDS} s"
            return error_response(503, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        latency = round(outcome * 1000, 1)
        return JSONResponse({"status": "ready", "database": probe.kind, "latencyMs": latency})

    async def exposition() -> Response:
        return await anyio.to_thread.run_sync(metrics.exposition, limiter=scraping)

    app.get(
        "/health",
        tags=[TAG["name"]],
        summary="Liveness: the process serves HTTP",
        response_model=Health,
        description="Always 200 while the server runs; reads no database and takes no turn.",
    )(health)
    app.get(
        "/ready",
        tags=[TAG["name"]],
        summary="Readiness: the database answers",
        response_model=Ready,
        responses=unavailable,
        description=f"200 when the database answers SELECT 1 within {READY_SECONDS:g} s, else "
        "503 with Retry-After. Takes no turn: a busy server is still ready.",
    )(ready)
    app.get(
        "/metrics",
        tags=[TAG["name"]],
        summary="Metrics of every process of the server, for Prometheus",
        response_class=PlainTextResponse,
        description="Prometheus' text format: HTTP requests by route template, method and "
        "status, and their durations; data points accepted and rejected; the database pool; "
        "requests waiting for a turn. Takes no turn; keep it off the public internet.",
    )(exposition)
    answers = (health, ready, exposition)
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.endpoint in answers]
    app.add_middleware(PastTheTurns, routes=routes)
