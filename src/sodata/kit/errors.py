"""The one error shape of the API: {"statusCode", "message", "error"}.

Every error the server returns - validation, not found, conflict, unexpected - goes
through the handlers installed by `install`, so clients only ever parse one shape, and
the OpenAPI document describes those responses rather than FastAPI's default 422.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

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


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


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


def _nul_in(scope: Scope) -> str | None:
    """Where the request line carries a NUL character, which no database column accepts."""
    if "\x00" in scope.get("path", "") or b"\x00" in unquote_to_bytes(scope.get("raw_path") or b""):
        return "path"
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
        return "query"
    return None


class RefuseNulCharacters:
    """Answers 400 to a path or query string with a NUL (%00) before any route sees it, so
    no filter or lookup can send one to the database."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        where = _nul_in(scope) if scope["type"] == "http" else None
        if where is None:
            await self.app(scope, receive, send)
            return
        await error_response(400, f"{where}: NUL characters are not allowed")(scope, receive, send)


METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request, named: str) -> str:
    """The Allow header of a 405: the methods `named` by the route that refused the request,
    and those of every other route at its path (the router names only the first route whose
    path matches; RFC 9110 wants them all). A mount's application names its own."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    path = {k: request.scope[k] for k in ("path", "root_path") if k in request.scope}

    def taken(method: str) -> bool:
        probe = {"type": "http", "method": method, **path}
        return any(route.matches(probe)[0] == Match.FULL for route in routes)

    allowed = {m.strip() for m in named.split(",") if m.strip()} | set(filter(taken, METHODS))
    return ", ".join([m for m in METHODS if m in allowed] + sorted(allowed - set(METHODS)))


def _database_reason(exc: DataError) -> str:
    """The driver's one-line reason, without the SQL statement or its parameters."""
    lines = str(exc.orig).strip().splitlines()
    reason = lines[0].strip() if lines else "rejected value"
    return reason if len(reason) <= 200 else reason[:200] + "..."


CHANGED_MEANWHILE = "The object changed or was deleted by another request; read it again and retry"


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


database_busy_log = Throttled(10.0)


def install(app: FastAPI) -> None:
    app.add_middleware(RefuseNulCharacters)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, describe_validation_errors(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        if exc.status_code == 404 and message == "Not Found":
            message = "No such path; the API is described at /swagger-api-json/v1"
        cause = exc.__cause__  # FastAPI's "There was an error parsing the body", explained
        if exc.status_code == 400 and isinstance(cause, RecursionError | UnicodeDecodeError):
            reason = "nested too deeply" if isinstance(cause, RecursionError) else "not UTF-8"
            message = f"body: not valid JSON ({reason})"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405 and headers and "Allow" in headers:
            headers = {**headers, "Allow": allowed_methods(request, headers["Allow"])}
        return error_response(exc.status_code, message, headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return error_response(
            409, "The change conflicts with existing data (a duplicate or a missing reference)"
        )

    @app.exception_handler(StaleDataError)
    @app.exception_handler(ObjectDeletedError)
    async def _changed_meanwhile(_: Request, exc: Exception) -> JSONResponse:
        # a row this request read was deleted (or changed) by a request that committed first
        log.info("concurrent change: %s", exc)
        return error_response(409, CHANGED_MEANWHILE)

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The wire types bound every value to its column; reaching this is a missing bound.
        log.warning("data error: %s", exc.orig)
        return error_response(
            400,
            "A value is out of range or not accepted by the database: " + _database_reason(exc),
        )

    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OperationalError)
    @app.exception_handler(sqlite3.OperationalError)
    async def _database_busy(request: Request, exc: Exception) -> JSONResponse:
        reason = overload_reason(exc)
        if reason is None:
            return await _unexpected(request, exc)
        database_busy_log.warning("503 on %s %s: %s", request.method, request.url.path, reason)
        busy = Overloaded(reason)
        return error_response(busy.status_code, busy.message, busy.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return error_response(500, "Internal error; the server log has the details")


ERROR_RESPONSES = {
    "400": "Bad input: the message names the field and says how to fix it",
    "401": "No access token, or it is invalid, expired or of an ended session; sign in again",
    "403": "The caller's role in this corporate account is too low for this action",
    "404": "No such object here, or the caller may not see it (the same answer for both)",
    "409": "The change conflicts with existing data (a duplicate name or serial number, or "
    "objects that still depend on this one), or another request changed or deleted the object "
    "meanwhile",
    "413": "The upload is larger than the limit",
    "415": "The upload is not a supported image",
    "429": "Too many requests from this caller in the rate limit's window (README, Rate "
    "limits): retry after the Retry-After header's seconds",
    "503": "The server is busy (no turn within SODATA_QUEUE_SECONDS) or its database is "
    "unavailable; nothing was changed: retry after the Retry-After header's seconds",
}
WRITE_METHODS = ("put", "patch", "delete")
API_PREFIX = "/api/v1/"


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer, from what it is."""
    statuses = ["400"]
    if path.startswith(API_PREFIX):
        statuses += ["401", "403", "429"]
    if "{" in path:
        statuses.append("404")
    if method in WRITE_METHODS or (method == "post" and "201" in operation.get("responses", {})):
        statuses.append("409")
    if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
        statuses += ["413", "415"]
    return [*statuses, "503"]


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Replaces FastAPI's 422 (never sent: validation errors are 400s) with the responses the
    handlers above really send, all in the ErrorBody shape, on the /api/ operations (sign-in
    endpoints answer OAuth errors). Statuses a route documents itself are kept."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components["ErrorBody"] = ErrorBody.model_json_schema()
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.pop("422", None)
            if not path.startswith("/api/"):
                continue
            for status in _statuses(path, method, operation):
                documented = {"description": ERROR_RESPONSES[status], "content": content}
                if status in ("429", "503"):
                    documented["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
                responses.setdefault(status, documented)
    return schema


def oauth2_scheme(realm_url: str) -> dict[str, Any]:
    """Swagger UI's Authorize button: the authorization code grant of the realm at `realm_url`
    (a path on this server for the embedded provider, or the external Keycloak realm)."""
    oidc = f"{realm_url}/protocol/openid-connect"
    return {
        "type": "oauth2",
        "description": "Sign in with the realm's browser flow (Swagger UI: client sodata-swagger, "
        "PKCE); scripts use the token endpoint directly (password or client_credentials grant)",
        "flows": {
            "authorizationCode": {
                "authorizationUrl": f"{oidc}/auth",
                "tokenUrl": f"{oidc}/token",
                "refreshUrl": f"{oidc}/token",
                "scopes": {
                    "openid": "OpenID Connect: also answer an id_token",
                    "email": "The user's email in the tokens",
                    "profile": "The user's name in the tokens",
                },
            }
        },
    }


def document_security(schema: dict[str, Any], realm_url: str) -> dict[str, Any]:
    """Every /api/v1 operation takes a token got by the oauth2 flow or pasted as HTTPBearer."""
    components = schema.setdefault("components", {})
    # oauth2 first: Swagger UI's Authorize dialog shows the schemes in this order, and signing in
    # (the code flow with PKCE, client filled in) is what a reader should see before pasting a token
    schemes = {"oauth2": oauth2_scheme(realm_url)}
    schemes |= {"HTTPBearer": {"type": "http", "scheme": "bearer"}}
    schemes |= {k: v for k, v in components.get("securitySchemes", {}).items() if k != "oauth2"}
    components["securitySchemes"] = schemes
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIX):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["security"] = [{"oauth2": []}, {"HTTPBearer": []}]
    return schema


def _realm_url(app: FastAPI) -> str:
    """The realm tokens come from: the external issuer, or the embedded one at the public
    address (a path on this server when none is set)."""
    settings = app.state.provider.settings
    if settings.oidc_issuer:
        return settings.oidc_issuer.rstrip("/")
    return f"{(settings.public_url or '').rstrip('/')}/realms/{settings.realm}"


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON body that the endpoint reads itself (to check each
    element on its own); `install_openapi` adds the models it refers to."""
    _BODY_MODELS.append(model)
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


_BODY_MODELS: list[type[BaseModel]] = []


def _document_bodies(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in _BODY_MODELS:
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found


def install_openapi(app: FastAPI) -> None:
    """`app.openapi` with `document_errors` and `document_security` applied once to each
    document FastAPI builds."""

    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        schema = FastAPI.openapi(app)  # cached by FastAPI until the routes change
        if not documented or documented[-1] is not schema:
            document_security(document_errors(schema), _realm_url(app))
            _document_bodies(schema)
            documented[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
