"""Keycloak's OpenID Connect endpoints, under /realms/{realm} and the legacy /auth/realms/{realm}.

Requests are form-encoded; clients authenticate with form fields or HTTP Basic. Answers and
errors have Keycloak's shapes ({"error", "error_description"}), since real Keycloak clients
(python-keycloak, Postman, Swagger UI, curl as in the spec) parse them.

The requests that check a client secret or a password are rate limited (kit/ratelimit.py,
config.py), by source address and by client_id, and an address whose checks failed too often
is refused all of them until the window ends: 429 with Retry-After, and the error
too_many_requests. Keycloak itself counts failures per user (its brute-force detection), as
the lockout here does; that stays. The address is the connection's, or the X-Forwarded-For of a
proxy on the same machine (uvicorn believes 127.0.0.1 and ::1, and FORWARDED_ALLOW_IPS)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jwt.algorithms import RSAAlgorithm
from sqlalchemy.orm import Session

from sodata.config import Settings
from sodata.identity import service
from sodata.identity.login_page import message_page, sign_in_page
from sodata.identity.provider import Provider, provider
from sodata.identity.service import OAuthError
from sodata.identity.tokens import InvalidToken
from sodata.kit.ratelimit import Limit, Limiter
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.models import OAuthClient, RateLimitCount

OIDC = "/realms/{realm}/protocol/openid-connect"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# The sign-in page must not be framed (clickjacking); it has inline CSS and nothing else.
PAGE_HEADERS = {
    **NO_STORE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "frame-ancestors 'none'; default-src 'self'; style-src 'unsafe-inline'"
    ),
}
# CORS as Keycloak answers it: its public documents to anyone, a client's answers to the pages
# of its "Web Origins" (here, as Keycloak's "+": the origins of its redirect URIs), e.g. the
# console of another server that trusts this realm. A preflight names any Origin; the answer
# to the request itself decides.
PUBLIC = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "3600",
}
MAX_FORM_BYTES = 64 * 1024  # a token request is a few hundred bytes
MAX_FORM_FIELDS = 100


class _OAuthRoute(SessionRoute):
    """Answers an OAuthError raised before the route runs (reading the form) in Keycloak's
    shape rather than the API's."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except OAuthError as exc:
                return _error(exc)

        return handle


router = APIRouter(include_in_schema=False, route_class=_OAuthRoute)
ProviderDep = Annotated[Provider, Depends(provider)]


def _too_large() -> OAuthError:
    return OAuthError(413, "invalid_request", "Request too large")


async def _form(request: Request) -> dict[str, str]:
    """The query (GET) or the urlencoded body (POST), read up to MAX_FORM_BYTES whatever the
    Content-Length says (a chunked body has none), so a huge body costs no memory."""
    if request.method != "POST":
        return dict(request.query_params)
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _too_large()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    try:
        pairs = parse_qsl(
            body.decode("latin-1"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        raise OAuthError(400, "invalid_request", "Too many form parameters") from None
    return dict(pairs)


FormDep = Annotated[dict[str, str], Depends(_form)]


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


class _TooMany(OAuthError):
    """A rate limit is reached: 429, with the seconds until it frees."""

    def __init__(self, retry_after: int, description: str) -> None:
        super().__init__(429, "too_many_requests", f"{description}; retry after {retry_after} s")
        self.retry_after = retry_after


def _error(exc: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if exc.status == 401 and exc.error == "invalid_token":
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.description}"'
        )
    if isinstance(exc, _TooMany):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _limits(request: Request) -> tuple[Limiter, Settings, str]:
    """The application's limiter and settings, and the request's source address."""
    settings = request.app.state.provider.settings
    limiter = Limiter.of(request.app.state, RateLimitCount.__table__, settings.rate_limit_window)
    return limiter, settings, request.client.host if request.client else ""


def _throttle(request: Request, client_id: str | None) -> None:
    """Refuses (429) a request that checks credentials if its address failed too often in
    this window, or sent too many, or if its client was named too often. Called before the
    request's session reads anything: the counts commit in short transactions of their own."""
    limiter, settings, address = _limits(request)
    failures = Limit(f"token-failures:{address}", settings.rate_limit("token_failures_per_address"))
    if wait := limiter.exceeded(failures):
        raise _TooMany(wait, "Too many failed sign-ins from this address")
    requests = Limit(f"token-address:{address}", settings.rate_limit("token_requests_per_address"))
    if wait := limiter.admit(requests):
        raise _TooMany(wait, "Too many sign-in requests from this address")
    named = Limit(f"token-client:{client_id}", settings.rate_limit("token_requests_per_client"))
    if client_id and (wait := limiter.admit(named)):
        raise _TooMany(wait, "Too many sign-in requests for this client")


def _failed(request: Request, session: Session) -> None:
    """Counts a wrong client secret or password against its address, in the request's
    transaction (which commits, error or not)."""
    limiter, settings, address = _limits(request)
    failures = Limit(f"token-failures:{address}", settings.rate_limit("token_failures_per_address"))
    limiter.record(session.connection(), failures)


def _cors(request: Request, session: Session, client_id: str | None, answer: Response) -> Response:
    """Lets the page at the request's Origin read `answer` (an error too) if it is one of the
    client's; else the browser keeps it from the page."""
    origin = request.headers.get("origin")
    if origin and client_id:
        client = service.find_client(session, client_id)
        if client and service.origin_allowed(client, origin, str(request.base_url)):
            answer.headers["Access-Control-Allow-Origin"] = origin
            answer.headers["Vary"] = "Origin"
    return answer


def _named_client(request: Request, form: dict[str, str]) -> str:
    """The client_id a request names (form or HTTP Basic), whether it authenticates or not."""
    try:
        return service.client_credentials_from(form, request.headers.get("authorization"))[0]
    except OAuthError:
        return ""


def _check_realm(realm: str, p: Provider) -> None:
    if realm != p.settings.realm:
        raise OAuthError(404, "Realm does not exist", f"Realm {realm} does not exist")


def _client(request: Request, session: SessionDep, form: dict[str, str]) -> OAuthClient:
    """The client the request authenticates as (rate limited: the request's first query)."""
    client_id, secret = service.client_credentials_from(form, request.headers.get("authorization"))
    _throttle(request, client_id)
    try:
        return service.authenticate_client(session, client_id, secret)
    except OAuthError:
        _failed(request, session)
        raise


@router.get("/realms/{realm}")
def realm_info(realm: str, request: Request, p: ProviderDep) -> Response:
    try:
        _check_realm(realm, p)
    except OAuthError as exc:
        return _error(exc)
    keys = p.keystore.keys(refresh=True)  # the key that signs now, maybe new
    key = RSAAlgorithm.from_jwk(keys.public[keys.signing_kid])
    assert isinstance(key, rsa.RSAPublicKey)  # a public JWK gives a public key
    public = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    issuer = p.issuer(request)
    return JSONResponse(
        {
            "realm": realm,
            "public_key": base64.b64encode(public).decode(),
            "token-service": f"{issuer}/protocol/openid-connect",
            "account-service": f"{issuer}/account",
            "tokens-not-before": 0,
        }
    )


@router.get("/realms/{realm}/.well-known/openid-configuration")
def well_known(realm: str, request: Request, p: ProviderDep) -> Response:
    try:
        _check_realm(realm, p)
    except OAuthError as exc:
        return _error(exc)
    issuer = p.issuer(request)
    oidc = f"{issuer}/protocol/openid-connect"
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{oidc}/auth",
            "token_endpoint": f"{oidc}/token",
            "introspection_endpoint": f"{oidc}/token/introspect",
            "userinfo_endpoint": f"{oidc}/userinfo",
            "end_session_endpoint": f"{oidc}/logout",
            "revocation_endpoint": f"{oidc}/revoke",
            "jwks_uri": f"{oidc}/certs",
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "password",
                "client_credentials",
            ],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "email",
                "preferred_username",
                "name",
            ],
        },
        headers=PUBLIC,
    )


@router.get(OIDC + "/certs")
def certs(realm: str, p: ProviderDep) -> Response:
    try:
        _check_realm(realm, p)
    except OAuthError as exc:
        return _error(exc)
    # read afresh: a client that meets a new kid refetches the JWKS, maybe from another process
    keys = list(p.keystore.keys(refresh=True).public.values())
    return JSONResponse({"keys": keys}, headers=PUBLIC)


@router.post(OIDC + "/token")
def token(
    realm: str, request: Request, session: SessionDep, p: ProviderDep, form: FormDep
) -> Response:
    try:
        _check_realm(realm, p)
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError(400, "invalid_request", "Missing form parameter: grant_type")
        client = _client(request, session, form)
        issuer = p.issuer(request)
        if grant == "password":
            body = service.password_grant(session, p.settings, p.tokens, issuer, client, form)
        elif grant == "refresh_token":
            body = service.refresh_grant(
                session, p.settings, p.tokens, p.accepted_issuers(request), issuer, client, form
            )
        elif grant == "client_credentials":
            body = service.client_credentials_grant(session, p.tokens, issuer, client, form)
        elif grant == "authorization_code":
            body = service.authorization_code_grant(
                session, p.settings, p.tokens, issuer, client, form
            )
        else:
            raise OAuthError(400, "unsupported_grant_type", "Unsupported grant_type")
        answer: Response = JSONResponse(body, headers=NO_STORE)
    except OAuthError as exc:
        if exc.status == 401 and exc.error == "invalid_grant":  # a wrong password (or none)
            _failed(request, session)  # (a wrong client secret: counted by _client)
        answer = _error(exc)  # the request still commits: failed sign-ins are counted and logged
    return _cors(request, session, _named_client(request, form), answer)


def _authorization_request(
    session: SessionDep, request: Request, form: dict[str, str]
) -> OAuthClient:
    """The client of a valid authorization request; errors are shown, never redirected."""
    client = service.find_client(session, form.get("client_id", ""), enabled=True)
    if client is None:
        raise OAuthError(400, "invalid_request", "Client not found.")
    if not service.redirect_allowed(client, form.get("redirect_uri", ""), str(request.base_url)):
        raise OAuthError(400, "invalid_request", "Invalid parameter: redirect_uri")
    if form.get("response_type") != "code":
        raise OAuthError(400, "unsupported_response_type", "Only response_type=code is supported")
    if "authorization_code" not in client.grant_types:
        raise OAuthError(400, "unauthorized_client", "Client not allowed to initiate browser login")
    method = form.get("code_challenge_method")
    if form.get("code_challenge") and method not in (None, "", "S256"):
        raise OAuthError(
            400, "invalid_request", "Invalid parameter: code_challenge_method (use S256)"
        )
    if client.secret_hash is None and not form.get("code_challenge"):
        raise OAuthError(
            400, "invalid_request", "Missing parameter: code_challenge_method (PKCE is required)"
        )
    return client


AUTH_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


@router.api_route(OIDC + "/auth", methods=["GET", "POST"])
def authorize(
    realm: str, request: Request, session: SessionDep, p: ProviderDep, form: FormDep
) -> Response:
    try:
        _check_realm(realm, p)
        if request.method == "POST":  # a password to check
            _throttle(request, form.get("client_id"))
        client = _authorization_request(session, request, form)
    except OAuthError as exc:
        page = _page(message_page("We are sorry...", exc.description), exc.status)
        if isinstance(exc, _TooMany):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    params = {k: form[k] for k in AUTH_PARAMS if form.get(k)}
    action = f"{p.issuer(request)}/protocol/openid-connect/auth"  # the public address
    if request.method == "GET":
        return _page(sign_in_page(realm, action, params))
    try:
        user = service.check_password(
            session,
            p.settings,
            form.get("username", ""),
            form.get("password", ""),
            via=client.client_id,
        )
    except OAuthError as exc:
        if exc.status == 401:
            _failed(request, session)
        message = (
            "Account is disabled."
            if exc.description == "Account disabled"
            else "Invalid username or password."
        )
        return _page(
            sign_in_page(realm, action, params, username=form.get("username", ""), error=message)
        )
    code = service.new_authorization_code(
        session,
        client,
        user,
        params["redirect_uri"],
        params.get("code_challenge"),
        params.get("scope", ""),
        params.get("nonce"),
    )
    answer = {"code": code, "iss": p.issuer(request)}
    if "state" in params:
        answer["state"] = params["state"]
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return RedirectResponse(params["redirect_uri"] + separator + urlencode(answer), status_code=302)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header[:7].lower() == "bearer " else None


@router.api_route(OIDC + "/userinfo", methods=["GET", "POST"])
def userinfo(realm: str, request: Request, session: SessionDep, p: ProviderDep) -> Response:
    claims: dict[str, Any] = {}
    try:
        _check_realm(realm, p)
        token = _bearer(request)
        if not token:
            raise OAuthError(401, "invalid_token", "Token verification failed")
        try:
            claims = p.tokens.verify(token, p.accepted_issuers(request))
        except InvalidToken:
            raise OAuthError(401, "invalid_token", "Token verification failed") from None
        if claims.get("sid") and service.active_session(session, claims["sid"]) is None:
            raise OAuthError(401, "invalid_token", "Token verification failed")
    except OAuthError as exc:
        return _cors(request, session, claims.get("azp"), _error(exc))
    info: dict[str, Any] = {
        "sub": claims["sub"],
        "email_verified": claims.get("email_verified", False),
    }
    for key in ("preferred_username", "email", "name"):
        if key in claims:
            info[key] = claims[key]
    return _cors(request, session, claims.get("azp"), JSONResponse(info, headers=NO_STORE))


@router.post(OIDC + "/token/introspect")
def introspect(
    realm: str, request: Request, session: SessionDep, p: ProviderDep, form: FormDep
) -> Response:
    try:
        _check_realm(realm, p)
        if _client(request, session, form).secret_hash is None:  # as Keycloak: no token oracle
            raise OAuthError(403, "invalid_request", "Client not allowed.")
    except OAuthError as exc:
        return _error(exc)
    try:
        claims = p.tokens.verify(form.get("token", ""), p.accepted_issuers(request), typ=None)
    except InvalidToken:
        return JSONResponse({"active": False}, headers=NO_STORE)
    if claims.get("sid") and service.active_session(session, claims["sid"]) is None:
        return JSONResponse({"active": False}, headers=NO_STORE)
    return JSONResponse(
        {
            **claims,
            "client_id": claims.get("azp"),
            "username": claims.get("preferred_username"),
            "token_type": claims.get("typ"),
            "active": True,
        },
        headers=NO_STORE,
    )


@router.post(OIDC + "/revoke")
def revoke(
    realm: str, request: Request, session: SessionDep, p: ProviderDep, form: FormDep
) -> Response:
    try:
        _check_realm(realm, p)
        client = _client(request, session, form)
        service.revoke_session_of(
            session, p.tokens, p.accepted_issuers(request), form.get("token", ""), client
        )
        answer = Response(status_code=200, headers=NO_STORE)  # RFC 7009: the same for any token
    except OAuthError as exc:
        answer = _error(exc)
    return _cors(request, session, _named_client(request, form), answer)


@router.api_route(OIDC + "/logout", methods=["GET", "POST"])
def logout(
    realm: str, request: Request, session: SessionDep, p: ProviderDep, form: FormDep
) -> Response:
    try:
        _check_realm(realm, p)
    except OAuthError as exc:
        return _error(exc)
    issuers = p.accepted_issuers(request)
    if "refresh_token" in form:  # a client's back-channel logout, as python-keycloak does it
        try:
            client = _client(request, session, form)
            if not service.revoke_session_of(
                session, p.tokens, issuers, form["refresh_token"], client
            ):
                raise OAuthError(400, "invalid_grant", "Invalid refresh token")
            answer = Response(status_code=204)
        except OAuthError as exc:
            answer = _error(exc)
        return _cors(request, session, _named_client(request, form), answer)
    # a browser logout: end the session named by id_token_hint, then go back if allowed
    if form.get("id_token_hint"):
        service.revoke_session_of(session, p.tokens, issuers, form["id_token_hint"])
    target = form.get("post_logout_redirect_uri")
    known = service.find_client(session, form.get("client_id", ""))
    if target and known and service.redirect_allowed(known, target, str(request.base_url)):
        return RedirectResponse(target, status_code=302)
    return _page(message_page("You are logged out", "You can close this page."))


@router.options(OIDC + "/token")
@router.options(OIDC + "/userinfo")
@router.options(OIDC + "/revoke")
@router.options(OIDC + "/logout")
def preflight(realm: str, request: Request, p: ProviderDep) -> Response:
    """A browser asks before a request it may not send unasked (with an Authorization header)."""
    try:
        _check_realm(realm, p)
    except OAuthError as exc:
        return _error(exc)
    origin = request.headers.get("origin")
    if not origin:
        return Response(status_code=200)
    headers = {**PREFLIGHT, "Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return Response(status_code=200, headers=headers)
