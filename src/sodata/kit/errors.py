"""The one error shape of the API: {"statusCode", "message", "error"}.

Every error the server returns - validation, not found, conflict, unexpected - goes
through the handlers installed by `install`, so clients only ever parse one shape.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    statusCode: int
    message: str
    error: str


class ApiError(Exception):
    status_code = 400

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


def not_found(kind: str, uuid: object) -> NotFound:
    """The same message whether the object does not exist or the caller may not see it."""
    return NotFound(f"{kind} {uuid} not found")


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"statusCode": status, "message": message, "error": HTTPStatus(status).phrase}
    return JSONResponse(body, status_code=status, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "request"


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
            shown = repr(err["input"])
            if len(shown) <= 60:
                msg += f" (got {shown})"
        messages.append(f"{where}: {msg}")
    return "; ".join(messages)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, describe_validation_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = "No such path; the API is described at /swagger-api-json/v1"
        return error_response(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return error_response(
            409, "The change conflicts with existing data (a duplicate or a missing reference)"
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "Internal error; the server log has the details")
