"""The one error shape of the API: {"statusCode", "message", "error"}.

Every error the server returns - validation, not found, conflict, unexpected - goes
through the handlers installed by `kit.handlers.install`, so clients only ever parse one
shape, and the OpenAPI document describes those responses rather than FastAPI's default 422.
This module is free of HTTP frameworks: the engine and the workers raise these errors too.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error answer: the HTTP status, what is wrong (field first) and the status phrase."""

    statusCode: int
    message: str
    error: str


class ApiError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequest(ApiError):
    status_code = 400


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


RETRY_AFTER_SECONDS = 1
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before sending the request again",
    "schema": {"type": "integer"},
}


class Overloaded(ApiError):
    """The server's turn did not come within its bounded wait (a request slot, a database
    connection, the write lane or a lock), or the database is unavailable: 503, retry later."""

    status_code = 503
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}

    def __init__(self, reason: str) -> None:
        super().__init__(f"The server is busy ({reason}); retry after {RETRY_AFTER_SECONDS} s")


def overload_reason(exc: BaseException) -> str | None:
    """Why a database error means "busy or unavailable, retry" (None: it does not)."""
    if isinstance(exc, PoolTimeout):
        return "no database connection was free in time"
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig)
        return (
            "the database was locked by another process"
            if "locked" in text or "busy" in text
            else None
        )
    if type(orig).__module__.startswith("psycopg"):  # only then is psycopg imported
        import psycopg

        if isinstance(orig, psycopg.OperationalError):  # down, restarting, a lock timeout
            return "the database is busy or unavailable"
    return None


def not_found(kind: str, uuid: object) -> NotFound:
    """The same message whether the object does not exist or the caller may not see it."""
    return NotFound(f"{kind} {uuid} not found")


def error_body(status: int, message: str) -> dict[str, Any]:
    """The one error shape (also of the answers of MQTT ingestion)."""
    return {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}


def _loc(loc: tuple[Any, ...]) -> str:
    """The field as the client wrote it ("name", "companyAddress.city", "series[0].from");
    "request" only when the whole body is wrong."""
    parts = list(loc)
    if parts and (parts[0] in ("query", "path", "header") or (parts[0] == "body" and parts[1:])):
        parts = parts[1:]
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)  # series[0].from
    return text.removeprefix(".") or "request"


def _shown(value: Any) -> str | None:
    """The rejected value, when it is short enough to quote (never walks a big structure)."""
    if isinstance(value, list | tuple | dict | set) and len(value) > 8:
        return None
    if isinstance(value, dict):
        parts = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set):
        parts = list(value)
    else:
        parts = []
    if any(isinstance(p, list | tuple | dict | set) for p in parts):
        return None
    shown = repr(value)
    return shown if len(shown) <= 60 else None


def describe_validation_errors(errors: list[dict[str, Any]]) -> str:
    messages = []
    for err in errors:
        where = _loc(tuple(err.get("loc", ())))
        msg = err.get("msg", "is invalid")
        if err.get("type") == "uuid_parsing":
            msg = "must be a UUID such as 3756c84b-8697-446f-9ca3-931b3681f908"
        elif err.get("type") == "extra_forbidden":
            msg = "is not a known field; check its spelling against the schema in /swagger-api-json/v1"
        elif err.get("type") == "missing":
            msg = "is required"
        elif err.get("type") == "json_invalid":
            where, msg = "body", "is not valid JSON: " + str(err.get("ctx", {}).get("error", ""))
        if "input" in err and err.get("type") not in ("missing", "extra_forbidden", "json_invalid"):
            shown = _shown(err["input"])
            if shown is not None:
                msg += f" (got {shown})"
        messages.append(f"{where}: {msg}")
    return "; ".join(messages)


class Throttled:
    """A log of one line every `seconds` at most, which counts the lines it held back: an
    outage answers hundreds of requests a second, the log needs to hear it once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = -seconds
        self._held = 0

    def warning(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last < self.seconds:
            self._held += 1
            return
        if self._held:
            message += f" (and {self._held} more since the last such line)"
        log.warning(message, *args)
        self._last, self._held = now, 0
