"""`sodata` (the same command line: `python -m bench.timed_server serve --demo ...`) whose
application answers a `Server-Timing: app;dur=<ms>` header: the time from the request entering the
ASGI application to the start of its answer (routing, authentication, body parsing, the endpoint,
serialization), without uvicorn's HTTP parsing and the network. The benchmarks read it as the
server-side time of a request. Nothing else changes.
"""

from __future__ import annotations

import time
from typing import Any

import sodata.app
from sodata.cli import app as cli

_create_app = sodata.app.create_app


class ServerTiming:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={took:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)


def create_app(*args: Any, **kwargs: Any) -> Any:
    return ServerTiming(_create_app(*args, **kwargs))


sodata.app.create_app = create_app  # `sodata serve` imports it when it starts

if __name__ == "__main__":
    cli()
