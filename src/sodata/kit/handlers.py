"""The HTTP side of the one error shape (`kit.errors`): the exception handlers that give every
error answer that shape, the middleware that refuses NUL characters, the Allow header of a
405, and the OpenAPI text of the error answers and of the sign-in."""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from sodata.kit.errors import (
    RETRY_AFTER_HEADER,
    ApiError,
    ErrorBody,
    Overloaded,
    Throttled,
    describe_validation_errors,
    error_body,
    overload_reason,
)

log = logging.getLogger(__name__)


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


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
