"""The HTTP endpoints of `sodata mqtt --http-port`, for orchestrators and monitoring: GET
/health (the process runs), GET /ready (the database answers SELECT 1 and every worker is
connected to the broker; else 503 with Retry-After, in the API's error shape) and GET /metrics
(kit/metrics.py: the workers' points, messages in flight and commit-to-ack latency)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from sqlalchemy import create_engine

from sodata.kit import metrics
from sodata.kit.errors import RETRY_AFTER_SECONDS
from sodata.kit.handlers import error_response
from sodata.kit.health import Probe


def app(database_url: str, broker_connected: Callable[[], bool]) -> FastAPI:
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    probe = Probe(create_engine(database_url))
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}

    @api.get("/health")
    async def health() -> Response:
        return JSONResponse({"status": "ok"})

    @api.get("/ready")
    async def ready() -> Response:
        outcome = await probe.check()
        probe.report(outcome)
        if isinstance(outcome, str):
            message = f"The database is unavailable; retry after {RETRY_AFTER_SECONDS} s"
            return error_response(503, message, retry)
        if not broker_connected():
            message = f"Not connected to the broker; retry after {RETRY_AFTER_SECONDS} s"
            return error_response(503, message, retry)
        latency = round(outcome * 1000, 1)
        return JSONResponse(
            {"status": "ready", "database": probe.kind, "latencyMs": latency, "broker": "connected"}
        )

    @api.get("/metrics")
    async def prometheus() -> Response:
        return metrics.exposition()

    return api


def serve(api: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Server:
    """Serve in a thread of its own (the main thread supervises the workers)."""
    config = uvicorn.Config(  # logging is the process's (worker.configure_logging)
        api, host=host, port=port, log_level=log_level, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, name="sodata-mqtt-http", daemon=True).start()
    return server
