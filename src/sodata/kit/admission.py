"""Admission: how many requests run at once in one process, and a bounded wait for a turn.

Reads (GET, HEAD, OPTIONS and the queries with a body) and writes (every other request) each
have their own number of turns, so readers never wait behind writers. A request enters once its
whole body has arrived (at most `max_body(method, path)` bytes, else 413; within
`body_seconds`, else 408, as uvicorn has no such limit), and leaves when its answer starts (its
session has committed by then), so neither a slow upload nor a slow download holds a turn, a
thread or a database connection.
A request that finds `queue_length` others waiting, or waits `queue_seconds` in vain, is
answered 503 with Retry-After at once. The database pool and the thread pool are sized to the
turns (app.py), so an admitted request never waits for either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sodata.kit import metrics
from sodata.kit.errors import ApiError, Overloaded
from sodata.kit.handlers import error_response

log = logging.getLogger(__name__)
REPORT_EVERY = 10.0  # seconds between two log lines about refused requests


class Turns:
    """`size` requests at once; at most `queue_length` waiting, each at most `wait` seconds."""

    def __init__(self, kind: str, size: int, wait: float, queue_length: int) -> None:
        self.kind = kind
        self.wait = wait
        self.queue_length = queue_length
        self._free = asyncio.Semaphore(size)
        self.waiting = 0
        self._refused = 0  # since the last log line
        self._reported = 0.0

    async def enter(self) -> None:
        if not self._free.locked():
            await self._free.acquire()  # no wait: a free turn is taken at once
            return
        if self.waiting >= self.queue_length:
            self._refuse(f"{self.waiting} {self.kind} requests are already waiting")
        self.waiting += 1
        metrics.ADMISSION_WAITING.labels(self.kind).inc()
        try:
            await asyncio.wait_for(self._free.acquire(), self.wait)
        except TimeoutError:
            self._refuse(f"no turn for a {self.kind} request within {self.wait:g} s")
        finally:
            self.waiting -= 1
            metrics.ADMISSION_WAITING.labels(self.kind).dec()

    def _refuse(self, reason: str) -> None:
        """Raises the 503; says so in the log, at most once every REPORT_EVERY seconds."""
        self._refused += 1
        metrics.ADMISSION_REFUSED.labels(self.kind).inc()
        now = time.monotonic()
        if now - self._reported >= REPORT_EVERY:
            log.warning("%d %s requests answered 503 (%s)", self._refused, self.kind, reason)
            self._refused, self._reported = 0, now
        raise Overloaded(reason)

    def leave(self) -> None:
        self._free.release()


class BodyTimeout(ApiError):
    status_code = 408
    headers = {"Connection": "close"}  # the rest of the body is not waited for

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"body: not received within {seconds:g} s; send it faster or in smaller parts"
        )


class Admission:
    """ASGI middleware: the body first, then a turn, then the application."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        reads: Turns,
        writes: Turns,
        is_read: Callable[[str, str], bool],
        max_body: Callable[[str, str], int],
        body_seconds: float,
    ) -> None:
        self.app = app
        self.reads = reads
        self.writes = writes
        self.is_read = is_read
        self.max_body = max_body
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body: bytes | None
        try:
            body = await self._body(scope, receive)
            turns = self.reads if self.is_read(scope["method"], scope["path"]) else self.writes
            await turns.enter()
        except ApiError as exc:
            await error_response(exc.status_code, exc.message, exc.headers)(scope, receive, send)
            return
        except ConnectionError:  # the client went away while sending its body: not an error
            log.debug("%s %s: the client left during its body", scope["method"], scope["path"])
            return
        inside = True

        def leave() -> None:
            nonlocal inside
            if inside:
                inside = False
                turns.leave()

        async def replay() -> Message:
            """The body as read, then the server's messages (a disconnect)."""
            nonlocal body
            if body is None:
                return await receive()
            message, body = {"type": "http.request", "body": body, "more_body": False}, None
            return message

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                leave()
            await send(message)

        try:
            await self.app(scope, replay, answer)
        finally:
            leave()

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body. A request without one gets an empty one at once, not from the
        server later: had its client left meanwhile, reading it would raise ClientDisconnect
        in the application, logged as an error of the server."""
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        chunked = any(k == b"transfer-encoding" for k, _ in scope["headers"])
        if declared in (None, b"0") and not chunked:
            return b""
        limit = self.max_body(scope["method"], scope["path"])
        too_large = ApiError(f"body: larger than {limit // 2**20} MiB; split it", 413)
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise too_large
        body = bytearray()
        try:
            async with asyncio.timeout(self.body_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise ConnectionError
                    body += message.get("body", b"")
                    if len(body) > limit:
                        raise too_large
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            raise BodyTimeout(self.body_seconds) from None


async def _body(request: Request) -> bytes:
    return await request.body()  # no wait: the admission let the request in with all of it


RawBody = Annotated[bytes, Depends(_body)]
"""The request's body as sent, for a sync endpoint that decodes it itself."""
