"""Prometheus metrics, answered at GET /metrics (kit/health.py; README, "Metrics and logs").

Multi-process mode: every process of the server (`sodata serve --workers N`) writes its values
to files of its own in one directory, and whichever process answers /metrics sums them all.
The directory is PROMETHEUS_MULTIPROC_DIR when the operator sets it (when the server starts,
it removes the files of processes that no longer run), else a private temporary one that the
process making it removes when it exits (or the next one, if it was killed). A parent shares its directory with the workers it
starts (`share`); it stays private otherwise, so that a server started by another program that
imported sodata (a test, a benchmark) does not record into that program's directory. The
counters of a worker that died stay (their sums do not go back); its gauges go with it
(`forget`). A command that runs beside the server (`sodata mqtt`) has a directory of its own
(answer its /metrics with `exposition`), or shares the server's when both are given the same
PROMETHEUS_MULTIPROC_DIR; one that starts workers calls `clear_directory` and `share` first,
and `forget` for each worker that exits, as kit/workers.py does.

Names start with `sodata_`; labels take bounded values only: a route's template, never a path.

- `sodata_http_requests_total{route, method, status}` and
  `sodata_http_request_duration_seconds{route, method}`: every HTTP request, from its arrival to
  the last byte of its answer handed to the server. `route` is the template
  (`/api/v1/ca/{corporateAccountUuid}/devices`; `/console/assets/{path}` for static files),
  or `unmatched` for requests answered before routing (an unknown path, the admission's 503,
  413 and 408). A request whose client left before any answer is not counted.
- `sodata_points_total{path, outcome}`: data points accepted and rejected, by ingestion path
  (`http`, `mqtt`): `count_points`.
- `sodata_mqtt_messages_in_flight`, `sodata_mqtt_commit_to_ack_seconds`: the MQTT worker's.
- `sodata_db_connections_in_use`, `sodata_db_pool_size`: the requests' database pool.
- `sodata_admission_waiting{kind}`, `sodata_admission_refused_total{kind}`: requests waiting
  for a turn, and those answered 503 by the admission (kit/admission.py).
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile
import time

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import ConnectionPoolEntry
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sodata.kit import log_format

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PRIVATE_VARIABLE = "SODATA_METRICS_PRIVATE_DIR"  # a directory a process made for itself
SHARED_VARIABLE = "SODATA_METRICS_SHARED_DIR"  # and shared with the workers it starts
PRIVATE_PREFIX = "sodata-metrics-"  # then the pid of the process that made it


def _directory() -> str:
    """The operator's directory, or the private one of the server that started this process as
    one of its workers, or a new private one."""
    given = os.environ.get(DIRECTORY_VARIABLE)
    private = os.environ.get(PRIVATE_VARIABLE)
    if given and (given != private or given == os.environ.get(SHARED_VARIABLE)):
        return given
    _remove_abandoned()
    made = tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-")
    os.environ[DIRECTORY_VARIABLE] = os.environ[PRIVATE_VARIABLE] = made
    atexit.register(shutil.rmtree, made, ignore_errors=True)
    return made


def _remove_abandoned() -> None:
    """Removes the private directories whose process ended without removing its own: killed,
    or stopped by SIGTERM (uvicorn raises it again once it has shut down: no exit handler
    runs)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{PRIVATE_PREFIX}*-*")):
        pid = os.path.basename(path).removeprefix(PRIVATE_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it does, as another user's
        pass
    return True


DIRECTORY = _directory()
# prometheus_client chooses where values live (memory or files) when it is first imported: if
# that was before the directory was known, the values made from now on live in files too.
if not getattr(values.ValueClass, "_multiprocess", False):
    values.ValueClass = values.get_value_class()

UNMATCHED = "unmatched"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}  # any other: "other"
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    "sodata_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
# without the status: its buckets times each status would multiply the series
REQUEST_SECONDS = Histogram(
    "sodata_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer, by route template and method",
    ["route", "method"],
    buckets=SECONDS,
)
POINTS = Counter(
    "sodata_points",
    "Data points received, by ingestion path (http, mqtt) and outcome (accepted, rejected)",
    ["path", "outcome"],
)
MQTT_IN_FLIGHT = Gauge(
    "sodata_mqtt_messages_in_flight",
    "MQTT messages received and not yet acknowledged",
    multiprocess_mode="livesum",
)
"""`MQTT_IN_FLIGHT.inc()` when a message arrives, `.dec()` once it is acknowledged (or given
up); the sum over the live processes."""
MQTT_COMMIT_TO_ACK = Histogram(
    "sodata_mqtt_commit_to_ack_seconds",
    "Seconds from the commit of a batch of MQTT messages to their acknowledgements",
    buckets=SECONDS,
)
"""`MQTT_COMMIT_TO_ACK.observe(seconds)` for each batch acknowledged: from the commit that made
its messages' points durable to their PUBACKs handed to the broker connection (and their
answers published)."""
DB_CONNECTIONS_IN_USE = Gauge(
    "sodata_db_connections_in_use",
    "Database connections checked out of the requests' pools",
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "sodata_db_pool_size",
    "Database connections the requests' pools may hold",
    multiprocess_mode="livesum",
)
ADMISSION_WAITING = Gauge(
    "sodata_admission_waiting",
    "Requests waiting for a turn, by kind (read, write)",
    ["kind"],
    multiprocess_mode="livesum",
)
ADMISSION_REFUSED = Counter(
    "sodata_admission_refused",
    "Requests answered 503 by the admission (queue full, or no turn in time), by kind",
    ["kind"],
)
# the series that may stay at 0 are shown from the start (a rate needs the 0)
for _path in ("http", "mqtt"):
    for _outcome in ("accepted", "rejected"):
        POINTS.labels(_path, _outcome)
for _kind in ("read", "write"):
    ADMISSION_WAITING.labels(_kind)
    ADMISSION_REFUSED.labels(_kind)


def count_points(path: str, accepted: int, rejected: int) -> None:
    """Points received by an ingestion path ("http", "mqtt"), once the accepted ones are
    stored: `count_points("mqtt", accepted, rejected)` after each commit."""
    POINTS.labels(path, "accepted").inc(accepted)
    POINTS.labels(path, "rejected").inc(rejected)


def watch_pool(engine: Engine) -> None:
    """Counts the connections `engine` lends out and its pool's size. A connection counts from
    its checkout to its checkin (a connection that failed to open was never lent)."""
    size = engine.pool.size  # type: ignore[attr-defined]
    DB_POOL_SIZE.inc(size() if callable(size) else size)  # SingletonThreadPool: an attribute

    def checkout(_connection: object, record: ConnectionPoolEntry, _proxy: object) -> None:
        record.info["lent"] = True
        DB_CONNECTIONS_IN_USE.inc()

    def checkin(_connection: object, record: ConnectionPoolEntry) -> None:
        if record.info.pop("lent", False):
            DB_CONNECTIONS_IN_USE.dec()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


def exposition() -> Response:
    """The sum of every process's values, in Prometheus' text format."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=DIRECTORY)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def clear_directory() -> None:
    """Removes what earlier runs left in the directory (the files of processes that no longer
    run): for the process that starts the server, before it starts any worker."""
    for name in glob.glob(os.path.join(DIRECTORY, "*_*.db")):
        pid = os.path.basename(name)[:-3].rsplit("_", 1)[1]
        if pid.isdigit() and not _running(int(pid)):
            os.remove(name)


def share() -> None:
    """The workers this process starts from now on record into its directory."""
    os.environ[SHARED_VARIABLE] = DIRECTORY


def forget(pid: int) -> None:
    """A worker has exited: its gauges are no longer summed (its counters still are)."""
    multiprocess.mark_process_dead(pid, DIRECTORY)


class Measure:
    """ASGI middleware, the outermost: counts and times every HTTP request by route template,
    method and status, and writes its access line (kit/log_format.py). `templates`: the
    templates of the application's own routes and mounts, by what the router puts in the scope
    as their endpoint."""

    def __init__(self, app: ASGIApp, *, templates: dict[object, str]) -> None:
        self.app = app
        self.templates = templates

    def route(self, scope: Scope) -> str:
        """The template of the route that answered, or UNMATCHED: never the path itself, whose
        values are unbounded."""
        # FastAPI keeps the template with the prefix of include_router (/auth/realms/{realm})
        # in its effective route context; scope["route"] has it as the router declared it.
        context = scope.get("fastapi", {}).get("effective_route_context")
        route = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", None)
        return route or self.templates.get(scope.get("endpoint"), UNMATCHED)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, answer)
        except Exception:
            status = status or 500  # what Starlette's outermost middleware answers
            raise
        finally:
            if status is not None:  # else the client left before any answer
                seconds = time.perf_counter() - started
                route = self.route(scope)
                method = scope["method"] if scope["method"] in METHODS else "other"
                REQUESTS.labels(route, method, str(status)).inc()
                REQUEST_SECONDS.labels(route, method).observe(seconds)
                log_format.access(scope, status, seconds)


def install(app: FastAPI, engine: Engine) -> None:
    """The database pool's gauges, and the middleware. Call it last: its middleware is then
    the outermost, and counts what the others answer too."""
    watch_pool(engine)
    templates: dict[object, str] = {}
    for route in app.router.routes:  # those of included routers name themselves in the scope
        if isinstance(route, Mount):
            templates[route.app] = f"{route.path}/{{path}}"
        elif isinstance(route, Route):
            templates[route.endpoint] = route.path
    app.add_middleware(Measure, templates=templates)
