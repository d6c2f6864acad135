"""The logic shared by `Client` and `AsyncClient`, free of I/O.

A call is a generator of *actions* (`Http`, `Sleep`, `NeedToken`); the sync and the async
client each run it with their own transport (`_drive`). So signing in, refreshing, the
one retry after a 401, the retries with backoff and the mapping of errors are written once.

Retries: a call is retried on 429 and 503 answers (honouring Retry-After) and on connection
errors when it is idempotent: every GET, PUT and DELETE, the POST that searches variables,
and the POST of data points (ingestion is idempotent by design: a point sent again for the
same variable and time replaces the stored one and is never counted twice). Any call is
retried when the connection could not even be opened, since the server then saw nothing.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Generator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from sodata.client.config import Tokens
from sodata.client.errors import AuthenticationError, ServerUnreachable, api_error

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_RETRY_AFTER = 60.0
RETRY_STATUSES = frozenset({429, 503})


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Http:
    """Send this request; the driver answers with the httpx.Response, or throws the
    httpx.TransportError into the generator."""

    method: str
    url: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, str] | None = field(default=None, repr=False)  # may hold secrets
    headers: dict[str, str] | None = field(default=None, repr=False)  # the Bearer token


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class NeedToken:
    """A valid access token, other than `stale` (the one the server just refused). The
    driver runs `TokenManager.obtain` under its lock and answers with the token."""

    stale: str | None = None


Action = Http | Sleep | NeedToken
Flow = Generator[Action, Any, Any]


@dataclass(frozen=True)
class Call:
    """One API request. `idempotent` defaults by method: POST is not, the others are."""

    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    idempotent: bool | None = None
    with_headers: bool = False  # the call answers (body, response headers)

    @property
    def retryable(self) -> bool:
        return self.idempotent if self.idempotent is not None else self.method != "POST"


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 0.5  # seconds before the first retry; doubled at each one

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After", "")
            if after.strip().isdigit():
                return min(float(after), MAX_RETRY_AFTER)
        return min(self.backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5), 30.0)


def with_retries(request: Http, retryable: bool, policy: RetryPolicy) -> Flow:
    """Send `request`, retrying as the module's docstring says; returns the response."""
    attempt = 0
    while True:
        try:
            response = yield request
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # nothing reached the server
            if attempt >= policy.retries:
                raise ServerUnreachable(_unreachable(request, exc)) from exc
        except httpx.TransportError as exc:
            if not retryable or attempt >= policy.retries:
                raise ServerUnreachable(_unreachable(request, exc)) from exc
        else:
            if response.status_code not in RETRY_STATUSES or not retryable:
                return response
            if attempt >= policy.retries:
                return response
            attempt += 1
            yield Sleep(policy.delay(attempt, response))
            continue
        attempt += 1
        yield Sleep(policy.delay(attempt))


def _unreachable(request: Http, exc: Exception) -> str:
    origin = httpx.URL(request.url)
    what = type(exc).__name__
    detail = str(exc) or what
    return f"cannot reach {origin.scheme}://{origin.netloc.decode()}: {detail} ({what})"


def body_of(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def api_call(call: Call, base_url: str, policy: RetryPolicy, authenticated: bool = True) -> Flow:
    """Run one API call: a token, the request with retries, one retry after a 401 with a new
    token; returns the JSON body (with the response headers if `call.with_headers`), or raises
    the API's error as an exception."""
    url = base_url + call.path
    token = (yield NeedToken()) if authenticated else None
    renewed = False
    while True:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        request = Http(call.method, url, params=call.params, json=call.json, headers=headers)
        response = yield from with_retries(request, call.retryable, policy)
        if response.status_code == 401 and authenticated and not renewed:
            renewed = True
            token = yield NeedToken(stale=token)
            continue
        body = body_of(response)
        if response.status_code >= 400:
            raise api_error(response.status_code, body, method=call.method, url=url)
        return (body, response.headers) if call.with_headers else body


def logout_flow(url: str, form: dict[str, str], policy: RetryPolicy) -> Flow:
    """End a session at the provider; a refresh token already expired is no error."""
    response = yield from with_retries(Http("POST", url, data=form), True, policy)
    if response.status_code >= 400 and response.status_code != 400:
        raise api_error(response.status_code, body_of(response), method="POST", url=url)


# --- tokens ----------------------------------------------------------------------------------


class TokenStore(Protocol):
    """Where tokens are kept between processes (the CLI's stored login)."""

    def lock(self) -> AbstractContextManager[Any]: ...

    def load_tokens(self) -> Tokens | None: ...

    def save_tokens(self, tokens: Tokens) -> None: ...


def margin(lifetime: float) -> float:
    """How long before its expiry a token is renewed: 30 s, or a fifth of a short lifetime
    (lifetimes are in seconds)."""
    return min(30.0, lifetime / 5)


@dataclass
class TokenManager:
    """Obtains and renews tokens from an OpenID Connect token endpoint (Keycloak's or the
    embedded provider's): the password grant with a username, the client_credentials grant
    without one, and the refresh_token grant to renew. An access token is renewed before it
    expires; a refresh token refused as expired or ended (400 invalid_grant) leads to a new
    sign-in when the credentials allow it."""

    token_url: str
    client_id: str | None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tokens: Tokens = field(default_factory=Tokens, repr=False)
    store: TokenStore | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Callable[[], float] = time.time
    on_sign_in: Callable[[str], None] | None = None  # told the grant used, for diagnostics

    @property
    def grant(self) -> str | None:
        if self.username and self.password is not None:
            return "password"
        if not self.username and self.client_secret:
            return "client_credentials"
        return None

    def _client_form(self) -> dict[str, str]:
        if not self.client_id:
            raise AuthenticationError(
                "no client id: set SODATA_CLIENT_ID (or client_id=...), the client the "
                "OpenID Connect provider knows this application by"
            )
        form = {"client_id": self.client_id}
        if self.client_secret:
            form["client_secret"] = self.client_secret
        return form

    def _fresh(self, stale: str | None) -> str | None:
        t = self.tokens
        if t.access_token and t.access_token != stale and t.access_expires_at > self.clock():
            return t.access_token
        return None

    def accept(self, payload: Any) -> str:
        if not isinstance(payload, dict) or not payload.get("access_token"):
            raise AuthenticationError("the token endpoint answered without an access token")
        now = self.clock()
        lifetime = float(payload.get("expires_in") or 60)
        refresh = payload.get("refresh_token") or None
        refresh_lifetime = payload.get("refresh_expires_in")
        refresh_expires_at = None
        if refresh and refresh_lifetime:  # 0 means "does not expire" in Keycloak
            refresh_expires_at = now + float(refresh_lifetime) - margin(float(refresh_lifetime))
        elif refresh is None:  # a refresh answer may keep the refresh token it was sent
            refresh, refresh_expires_at = self.tokens.refresh_token, self.tokens.refresh_expires_at
        self.tokens = Tokens(
            access_token=payload["access_token"],
            access_expires_at=now + lifetime - margin(lifetime),
            refresh_token=refresh,
            refresh_expires_at=refresh_expires_at,
        )
        if self.store is not None:
            self.store.save_tokens(self.tokens)
        return payload["access_token"]

    def _post(self, form: dict[str, str]) -> Flow:
        request = Http("POST", self.token_url, data=form)
        # a refresh token is single-use, so a refresh is only re-sent when it never arrived
        retryable = form["grant_type"] != "refresh_token"
        response = yield from with_retries(request, retryable, self.policy)
        return response.status_code, body_of(response)

    def obtain(self, stale: str | None = None) -> Flow:
        """A valid access token (the driver holds the lock while this runs)."""
        if self.store is not None:  # another process may have renewed the stored tokens
            stored = self.store.load_tokens()
            if stored is not None and stored.refresh_token != self.tokens.refresh_token:
                self.tokens = stored
        token = self._fresh(stale)
        if token:
            return token
        t = self.tokens
        if t.refresh_token and (
            t.refresh_expires_at is None or t.refresh_expires_at > self.clock()
        ):
            form = {
                "grant_type": "refresh_token",
                "refresh_token": t.refresh_token,
                **self._client_form(),
            }
            status, body = yield from self._post(form)
            if status == 200:
                return self.accept(body)
            if not (status in (400, 401) and _error(body) == "invalid_grant"):
                raise _sign_in_error(status, body, "refreshing the token")
            # the refresh token expired or its session ended: sign in again below
        self.tokens = Tokens()
        grant = self.grant
        if grant is None:
            raise AuthenticationError(
                "not signed in, or the sign-in has expired: run `sodata login`, or set "
                "SODATA_USERNAME and SODATA_PASSWORD (or SODATA_CLIENT_ID and "
                "SODATA_CLIENT_SECRET for an API client)"
            )
        form = {"grant_type": grant, **self._client_form()}
        if grant == "password":
            form |= {"username": self.username or "", "password": self.password or ""}
        status, body = yield from self._post(form)
        if status != 200:
            raise _sign_in_error(status, body, "signing in")
        if self.on_sign_in is not None:
            self.on_sign_in(grant)
        return self.accept(body)

    def logout_form(self) -> dict[str, str] | None:
        if not self.tokens.refresh_token:
            return None
        return {"refresh_token": self.tokens.refresh_token, **self._client_form()}


def _error(body: Any) -> str | None:
    return body.get("error") if isinstance(body, dict) else None


def _sign_in_error(status: int, body: Any, doing: str) -> AuthenticationError:
    error = _error(body)
    description = body.get("error_description") if isinstance(body, dict) else None
    if status == 404:
        message = (
            f"{doing}: the token endpoint was not found (404); check the auth URL and the realm"
        )
    elif error == "invalid_client":
        message = f"{doing}: the client id or client secret was refused ({description or error})"
    elif error == "invalid_grant":
        message = f"{doing}: {description or 'the credentials were refused'}"
    else:
        detail = description or error or (str(body)[:200] if body else "no detail")
        message = f"{doing}: the token endpoint answered {status} ({detail})"
    return AuthenticationError(message, error=error, description=description, status_code=status)


def token_url(auth_url: str, realm: str) -> str:
    return f"{auth_url.rstrip('/')}/realms/{realm}/protocol/openid-connect/token"


# --- references to objects -------------------------------------------------------------------


def uuid_of(obj: Any, what: str) -> str:
    """The uuid of an object given as a model (anything with `.uuid`), a UUID or its text."""
    value = getattr(obj, "uuid", obj)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ValueError(f"{what}: expected a uuid or an object with one, got {obj!r}")


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def ca_path(ca: Any) -> str:
    return f"/api/v1/ca/{uuid_of(ca, 'corporate account')}"


def drop_none(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


# --- paging ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageSpec:
    """A paged list of the API (take/skip, `{"total", "results", "take"}`)."""

    method: str
    path: str
    parse: Callable[[Any], Any]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    page_size: int = 200

    def call(self, skip: int, take: int) -> Call:
        params = {**self.params, "take": take, "skip": skip}
        return Call(self.method, self.path, params=params, json=self.json, idempotent=True)


MAX_PAGE_SIZE = 1000


class PageCursor:
    """Where a lazy iteration over a paged list stands; the pagers of both clients use it."""

    def __init__(self, spec: PageSpec, limit: int | None) -> None:
        if not 1 <= spec.page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size: from 1 to {MAX_PAGE_SIZE}")
        self.spec, self.limit = spec, limit
        self.skip = 0
        self.total: int | None = None
        self.done = limit is not None and limit <= 0

    def next_call(self) -> Call | None:
        if self.done:
            return None
        take = self.spec.page_size
        if self.limit is not None:
            take = min(take, self.limit - self.skip)
        return self.spec.call(self.skip, take)

    def accept(self, body: Any) -> list[Any]:
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise ValueError(f"{self.spec.path}: expected a page {{total, results, take}}")
        results = body["results"]
        self.total = int(body.get("total", 0))
        self.skip += len(results)
        if (
            not results
            or self.skip >= self.total
            or (self.limit is not None and self.skip >= self.limit)
        ):
            self.done = True
        return [self.spec.parse(r) for r in results]
