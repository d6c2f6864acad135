"""The caller of a request, from its Bearer token.

Tokens of the embedded provider are checked against its keys and its live sessions (a
token dies with its session at logout); with SODATA_OIDC_ISSUER set, tokens of that
external Keycloak realm are checked against its JWKS and users are matched by email.

The token is checked on every request; what it names (the user, their roles, their session)
is read from the database once and then kept for SODATA_PRINCIPAL_CACHE_SECONDS, so that a
request usually reads the database once, for its own answer. A change committed by this
process (a logout, a role, a disabled user) empties the cache at once; one committed by
another process shows after at most that many seconds.

Each caller (a user, or an API client's service account) may send SODATA_API_REQUESTS_PER_CLIENT
requests a window, counted across the server's processes (kit/ratelimit.py): past it, 429
with Retry-After. Most requests are counted in memory; a few lease more in the database."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import event, func, literal, select
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from sodata.access.principal import Principal, Role
from sodata.identity.external import audience_allowed
from sodata.identity.service import active_session
from sodata.identity.tokens import InvalidToken
from sodata.kit.ratelimit import Limit, Limiter
from sodata.models import CorporateAccount, OAuthClient, RateLimitCount, User, UserLink

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token of the realm: POST /realms/{realm}/protocol/openid-connect/token",
)


def _unauthorized(reason: str, error: str | None = "invalid_token") -> HTTPException:
    challenge = 'Bearer realm="sodata"'
    if error:
        challenge += f', error="{error}", error_description="{reason}"'
    return HTTPException(
        401,
        detail=f"{reason}; send Authorization: Bearer <access token>",
        headers={"WWW-Authenticate": challenge},
    )


def _claims(request: Request, token: str) -> dict[str, Any]:
    state = request.app.state
    try:
        if state.external_issuer is not None:
            claims = state.external_issuer.verify(token)
            if not audience_allowed(claims, state.provider.settings.oidc_audience):
                raise InvalidToken("token issued to another client")
            return claims
        p = state.provider
        return p.tokens.verify(token, p.accepted_issuers(request))
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from None


class Principals:
    """Callers by (access token, address it was sent to), each kept `seconds`, with the
    token's expiry; all forgotten when this process commits a change made through the ORM
    (point writes go around the ORM and keep the cache warm)."""

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.generation = 0  # bumped by every forgetting: an entry of an older one is stale
        self._entries: dict[tuple[str, str], tuple[float, int, Principal, float]] = {}

    def get(self, key: tuple[str, str]) -> tuple[Principal, float] | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic() or entry[1] != self.generation:
            return None
        return entry[2], entry[3]

    def put(
        self, key: tuple[str, str], principal: Principal, expires: float, generation: int
    ) -> None:
        """`generation`: the one seen before the principal was read (a forgetting meanwhile,
        even one that races this call, leaves the entry stale)."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, generation, principal, expires)

    def forget(self) -> None:
        self.generation += 1
        self._entries.clear()

    def watch(self, factory: sessionmaker[Session]) -> None:
        @event.listens_for(factory, "after_flush")
        def _flushed(session: Session, _context: Any) -> None:
            session.info["wrote"] = True

        @event.listens_for(factory, "do_orm_execute")
        def _bulk(state: ORMExecuteState) -> None:  # UPDATE/DELETE statements flush nothing
            if state.is_update or state.is_delete:
                state.session.info["wrote"] = True

        @event.listens_for(factory, "after_commit")
        def _committed(session: Session) -> None:
            if session.info.pop("wrote", False):
                self.forget()


def _memberships(session: Session, where: Any) -> dict[str, Any]:
    """The Principal's `roles` and `accounts` of the links (or client) `where` selects."""
    rows = session.execute(where).all()
    return {
        "roles": {ca_id: Role(role) for ca_id, _, _, role in rows},
        "accounts": {ca_uuid: (ca_id, name) for ca_id, ca_uuid, name, role in rows},
    }


_ACCOUNT = (CorporateAccount.id, CorporateAccount.uuid, CorporateAccount.name)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise _unauthorized("Missing access token", error=None)
    cache: Principals = request.app.state.principals
    key = (credentials.credentials, str(request.base_url))  # the issuers accepted depend on it
    hit = cache.get(key)
    if hit is not None:  # no I/O: answered on the event loop
        principal, expires = hit
        if expires <= time.time():
            raise _unauthorized("Token is not active")
    else:
        generation = cache.generation
        principal, expires = await run_in_threadpool(_load, request, credentials.credentials)
        cache.put(key, principal, expires, generation)
    await _within_limit(request, principal)
    return principal


def _caller(principal: Principal) -> str:
    if principal.user_id is not None:
        return f"api-user:{principal.user_id}"
    if principal.client_id is not None:
        return f"api-client:{principal.client_id}"
    return f"api-email:{principal.email or ''}"  # a user of an external realm unknown here


async def _within_limit(request: Request, principal: Principal) -> None:
    """Counts the request against its caller's limit (in memory, mostly); 429 past it."""
    settings = request.app.state.provider.settings
    limit = Limit(_caller(principal), settings.rate_limit("api_requests_per_client"))
    if not limit.per_window:
        return
    limiter = Limiter.of(request.app.state, RateLimitCount.__table__, settings.rate_limit_window)
    wait = limiter.admit_now(limit)
    if wait is None:  # this process holds no permit: lease some
        wait = await run_in_threadpool(limiter.admit, limit)
    if wait:
        raise HTTPException(
            429,
            detail=f"Too many requests by this caller (at most {limit.per_window} in "
            f"{settings.rate_limit_window} s); retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )


def _load(request: Request, token: str) -> tuple[Principal, float]:
    """Checks the token (maybe reading keys or a JWKS) and reads whom it names."""
    claims = _claims(request, token)
    with request.app.state.sessionmaker() as session:
        return _principal(request, session, claims), float(claims["exp"])


def _principal(request: Request, session: Session, claims: dict[str, Any]) -> Principal:
    if request.app.state.external_issuer is not None:
        # Only a verified email names a user here: where the realm lets people sign up, anyone
        # could claim an email they do not own.
        email = str(claims.get("email") or "").lower() if claims.get("email_verified") else ""
        user = (
            session.scalar(select(User).where(func.lower(User.email) == email)) if email else None
        )
        if user is None:  # known to the identity provider, not here: sees nothing
            return Principal(user_id=None, email=email or None)
    else:
        if claims.get("sid") and active_session(session, claims["sid"]) is None:
            raise _unauthorized("Session not active")
        try:
            subject = uuid.UUID(str(claims["sub"]))
        except ValueError:
            raise _unauthorized("invalid token") from None
        user = session.scalar(select(User).where(User.uuid == subject))
        if user is None:
            client = session.scalar(select(OAuthClient).where(OAuthClient.uuid == subject))
            if client is None or not client.enabled:
                raise _unauthorized("Unknown subject")
            bound = client.corporate_account_id is not None and client.role
            account = select(*_ACCOUNT, literal(client.role)).where(
                CorporateAccount.id == client.corporate_account_id
            )
            return Principal(
                user_id=None,
                client_id=client.client_id,
                gateway_device_id=client.gateway_device_id,
                **(_memberships(session, account) if bound else {}),
            )
    if not user.enabled:
        raise _unauthorized("Account disabled")
    return Principal(
        user_id=user.id,
        email=user.email,
        superuser=user.is_superuser,
        **_memberships(
            session,
            select(*_ACCOUNT, UserLink.role)
            .join(UserLink, UserLink.corporate_account_id == CorporateAccount.id)
            .where(UserLink.user_id == user.id),
        ),
    )


PrincipalDep = Annotated[Principal, Depends(current_principal)]
