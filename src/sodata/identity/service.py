"""The grants of the embedded provider: password, refresh_token, client_credentials and
authorization_code (PKCE S256), with Keycloak's error answers, rotating refresh tokens,
sessions that die at logout, and a temporary lockout after repeated failed sign-ins."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import SplitResult, unquote, urlsplit

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.orm import Session

from sodata.audit import record
from sodata.config import Settings
from sodata.identity.passwords import hash_secret, needs_rehash, verify_secret
from sodata.identity.tokens import InvalidToken, Subject, Tokens
from sodata.models import (
    AuthorizationCode,
    AuthSession,
    OAuthClient,
    SignInFailure,
    User,
    UserLink,
)

BAD_CREDENTIALS = "Invalid user credentials"
BAD_CLIENT = "Invalid client or Invalid client credentials"
CODE_LIFETIME = timedelta(seconds=60)


class OAuthError(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- clients -------------------------------------------------------------------------------


def client_credentials_from(
    form: dict[str, str], authorization: str | None
) -> tuple[str, str | None]:
    """client_id and secret from HTTP Basic (Swagger UI sends it, even empty) or the form."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            client_id, _, secret = decoded.partition(":")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(401, "invalid_client", BAD_CLIENT) from None
        return unquote(client_id), unquote(secret)
    return form.get("client_id", ""), form.get("client_secret")


def _rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE changed (its result is a cursor's)."""
    return cast(CursorResult[Any], result).rowcount


def find_client(session: Session, client_id: str, *, enabled: bool = False) -> OAuthClient | None:
    """The client with this client_id, whether it authenticates or not (only an enabled one
    with `enabled`)."""
    stmt = select(OAuthClient).where(OAuthClient.client_id == client_id)
    if enabled:
        stmt = stmt.where(OAuthClient.enabled.is_(True))
    return session.scalar(stmt)


def authenticate_client(session: Session, client_id: str, secret: str | None) -> OAuthClient:
    """Client ids are not secret, so an unknown one is refused at once, without argon2 work
    that anyone could make the server do for free."""
    client = (
        session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if client_id
        else None
    )
    if client is None or not client.enabled:
        raise OAuthError(401, "invalid_client", BAD_CLIENT)
    if client.secret_hash is None:
        return client  # a public client (Swagger UI): it proves nothing, PKCE protects it
    if secret and verify_secret(client.secret_hash, secret):
        if needs_rehash(client.secret_hash):
            client.secret_hash = hash_secret(secret)
        return client
    raise OAuthError(401, "invalid_client", BAD_CLIENT)


def _require_grant(client: OAuthClient, grant: str) -> None:
    if grant not in client.grant_types:
        message = {
            "password": "Client not allowed for direct access grants",
            "client_credentials": "Client not enabled to retrieve service account",
            "authorization_code": "Client not allowed to initiate browser login",
        }.get(grant, f"Client not allowed to use grant_type {grant}")
        raise OAuthError(400, "unauthorized_client", message)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _url(value: str) -> SplitResult | None:
    """An absolute http(s) URL without userinfo, or None. Backslashes, spaces and control
    characters are refused: browsers and urllib read them differently."""
    if any(c == "\\" or ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        return None
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.hostname or "@" in url.netloc:
        return None
    return url


def _port(url: SplitResult) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _same_origin(allowed: SplitResult, target: SplitResult) -> bool:
    if (target.scheme, target.hostname) != (allowed.scheme, allowed.hostname):
        return False
    # RFC 8252 7.3: a native app listens on whatever loopback port it could get
    return allowed.hostname in LOOPBACK_HOSTS or _port(target) == _port(allowed)


def _matches(pattern: str, target: SplitResult) -> bool:
    wildcard = pattern.endswith("*")
    allowed = _url(pattern[:-1] if wildcard else pattern)
    if allowed is None or not _same_origin(allowed, target):
        return False
    if wildcard:  # the * extends the path only, never the host
        if allowed.query or allowed.fragment:
            return False
        return (target.path or "/").startswith(allowed.path or "/")
    return (target.path or "/", target.query) == (allowed.path or "/", allowed.query)


def redirect_allowed(client: OAuthClient, redirect_uri: str, base_url: str) -> bool:
    """The URL matches one of the client's patterns: the same scheme and host (and port but
    on loopback), then the same path, or a longer one where the pattern ends in *. Patterns
    starting with / are on this server. No userinfo, fragment or dot segment: the host and
    path a browser goes to are the ones checked."""
    target = _url(redirect_uri)
    if target is None or target.fragment or "#" in redirect_uri:
        return False
    if any(unquote(part) in (".", "..") for part in target.path.split("/")):
        return False
    for pattern in client.redirect_uris:
        if pattern.startswith("/"):
            pattern = base_url.rstrip("/") + pattern
        if _matches(pattern, target):
            return True
    return False


def origin_allowed(client: OAuthClient, origin: str, base_url: str) -> bool:
    """A browser at `origin` (an Origin header) may read the client's answers: one of its
    redirect URIs is there, as Keycloak's Web Origins "+" (the same scheme and host, and port
    but on loopback). An Origin is scheme://host[:port] and nothing more ("null" is none)."""
    target = _url(origin)
    if target is None or origin != f"{target.scheme}://{target.netloc}":
        return False
    for pattern in client.redirect_uris:
        if pattern.startswith("/"):
            pattern = base_url.rstrip("/") + pattern
        allowed = _url(pattern.removesuffix("*"))
        if allowed is not None and _same_origin(allowed, target):
            return True
    return False


# --- users ---------------------------------------------------------------------------------


def subject_of_user(user: User) -> Subject:
    return Subject(
        sub=str(user.uuid),
        username=user.email,
        email=user.email,
        name=user.name,
        roles=["sodata-admin"] if user.is_superuser else [],
    )


def subject_of_client(client: OAuthClient) -> Subject:
    return Subject(
        sub=str(client.uuid),
        username=f"service-account-{client.client_id}",
        email=None,
        name=None,
        roles=[],
    )


def _linked_accounts(session: Session, user: User) -> list[int]:
    return list(
        session.scalars(select(UserLink.corporate_account_id).where(UserLink.user_id == user.id))
    )


MAX_USERNAME = 255  # the length of User.email and SignInFailure.email


def _is_locked(session: Session, email: str) -> bool:
    locked_until = session.scalar(
        select(SignInFailure.locked_until).where(SignInFailure.email == email)
    )
    return locked_until is not None and _aware(locked_until) > now()


def _purge_failures(session: Session, settings: Settings, email: str) -> None:
    """Forget failures older than a lockout, so that the table does not grow with every
    guessed email. Rows other requests hold are skipped (PostgreSQL), never waited for."""
    cutoff = now() - timedelta(seconds=settings.lockout_seconds)
    stale = (
        select(SignInFailure.email)
        .where(
            SignInFailure.email != email,
            or_(SignInFailure.last_failure_at.is_(None), SignInFailure.last_failure_at < cutoff),
            or_(SignInFailure.locked_until.is_(None), SignInFailure.locked_until < cutoff),
        )
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(SignInFailure)
        .where(SignInFailure.email.in_(stale))
        .execution_options(synchronize_session=False)
    )


def _locked_out(
    session: Session, settings: Settings, email: str, password_ok: bool, enabled: bool
) -> bool:
    """Records a sign-in attempt whose password has been checked; True if the email is locked
    out, whatever the password. The email's row is locked first (PostgreSQL: the row; SQLite:
    the database), so parallel guesses are decided one after the other and none is answered
    once the limit is reached; the argon2 work before runs unlocked. Only a successful
    sign-in clears the failures: the right password of a disabled account does not."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(SignInFailure)
        .values(email=email, failures=0)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    row = session.scalars(
        select(SignInFailure)
        .where(SignInFailure.email == email)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    at = now()
    if row.locked_until is not None and _aware(row.locked_until) > at:
        return True
    if password_ok:
        if enabled or (row.failures == 0 and row.last_failure_at is None):
            session.delete(row)
        return False
    row.failures += 1
    row.last_failure_at = at
    if row.failures >= settings.lockout_failures:
        row.failures, row.locked_until = 0, at + timedelta(seconds=settings.lockout_seconds)
    _purge_failures(session, settings, email)
    return False


def _record_failure(session: Session, user: User | None, reason: str, via: str) -> None:
    if user is None:
        return
    for ca_id in _linked_accounts(session, user):
        record(
            session,
            ca_id,
            "SIGN_IN_FAILED",
            f"Failed sign-in of {user.email} ({reason})",
            obj=user,
            object_type="User",
            level="WARNING",
            details={"via": via},
        )


def check_password(
    session: Session, settings: Settings, email: str, password: str, via: str
) -> User:
    """The user with these credentials, or the same error whatever went wrong (unknown email,
    wrong password, locked out), after the same argon2 work for known and unknown emails.
    `lockout_failures` failures in a row lock the email out for `lockout_seconds`; a locked
    email is refused before any argon2 work (only the right password could tell). What
    cannot be an email is refused without touching the database."""
    email = email.strip().lower()
    if not email or len(email) > MAX_USERNAME or "@" not in email:
        raise OAuthError(401, "invalid_grant", BAD_CREDENTIALS)
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if _is_locked(session, email):
        _record_failure(session, user, "locked out after repeated failures", via)
        raise OAuthError(401, "invalid_grant", BAD_CREDENTIALS)
    valid = verify_secret(user.password_hash if user else None, password) and user is not None
    enabled = user is not None and user.enabled
    locked = _locked_out(session, settings, email, valid, enabled)
    if user is None or not valid or locked:
        reason = "locked out after repeated failures" if locked else "wrong password"
        _record_failure(session, user, reason, via)
        raise OAuthError(401, "invalid_grant", BAD_CREDENTIALS)
    if not user.enabled:
        raise OAuthError(400, "invalid_grant", "Account disabled")
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_secret(password)
    return user


# --- sessions and token responses ----------------------------------------------------------


@dataclass
class Issued:
    body: dict[str, Any]


def _scope(requested: str | None) -> str:
    return "openid email profile" if "openid" in (requested or "").split() else "email profile"


def start_session(
    session: Session, settings: Settings, user: User, client: OAuthClient, scope: str
) -> AuthSession:
    created = now()
    auth = AuthSession(
        user_id=user.id,
        client_id=client.id,
        scope=scope,
        created_at=created,
        expires_at=created + timedelta(seconds=settings.refresh_token_lifetime),
        max_expires_at=created + timedelta(seconds=settings.session_max_lifetime),
    )
    session.add(auth)
    session.flush()
    for ca_id in _linked_accounts(session, user):
        record(
            session,
            ca_id,
            "SIGN_IN",
            f"{user.email} signed in with client {client.client_id}",
            obj=user,
            object_type="User",
            details={"client": client.client_id},
        )
    return auth


def session_response(
    session: Session,
    tokens: Tokens,
    issuer: str,
    auth: AuthSession,
    user: User,
    client: OAuthClient,
    nonce: str | None = None,
) -> dict[str, Any]:
    """A new access token and a new refresh token; older refresh tokens of the session die."""
    tokens.keystore.reload(session)
    auth.refresh_jti = secrets.token_hex(16)
    expires = min(_aware(auth.expires_at), _aware(auth.max_expires_at))
    subject = subject_of_user(user)
    sid = str(auth.id)
    body: dict[str, Any] = {
        "access_token": tokens.access_token(issuer, subject, client.client_id, auth.scope, sid),
        "expires_in": tokens.access_lifetime,
        # rounded up: the session started a moment ago (under load, a second), so 1800 s are
        # 1799.4 s left by now
        "refresh_expires_in": max(0, math.ceil((expires - now()).total_seconds())),
        "refresh_token": tokens.refresh_token(
            issuer,
            subject,
            client.client_id,
            auth.scope,
            sid,
            auth.refresh_jti,
            int(expires.timestamp()),
        ),
        "token_type": "Bearer",
    }
    if "openid" in auth.scope.split():
        body["id_token"] = tokens.id_token(issuer, subject, client.client_id, sid, nonce)
    body.update({"not-before-policy": 0, "session_state": sid, "scope": auth.scope})
    session.flush()
    return body


def active_session(session: Session, sid: str | None) -> AuthSession | None:
    try:
        auth = session.get(AuthSession, uuid.UUID(str(sid)))
    except ValueError:
        return None
    if auth is None or auth.revoked_at is not None:
        return None
    if min(_aware(auth.expires_at), _aware(auth.max_expires_at)) <= now():
        return None
    return auth


# --- grants --------------------------------------------------------------------------------


def password_grant(
    session: Session,
    settings: Settings,
    tokens: Tokens,
    issuer: str,
    client: OAuthClient,
    form: dict[str, str],
) -> dict[str, Any]:
    _require_grant(client, "password")
    if not form.get("username"):
        raise OAuthError(401, "invalid_grant", BAD_CREDENTIALS)
    user = check_password(
        session, settings, form["username"], form.get("password", ""), via=client.client_id
    )
    auth = start_session(session, settings, user, client, _scope(form.get("scope")))
    return session_response(session, tokens, issuer, auth, user, client)


def refresh_grant(
    session: Session,
    settings: Settings,
    tokens: Tokens,
    issuers: set[str],
    issuer: str,
    client: OAuthClient,
    form: dict[str, str],
) -> dict[str, Any]:
    token = form.get("refresh_token")
    if not token:
        raise OAuthError(400, "invalid_request", "Missing form parameter: refresh_token")
    try:
        claims = tokens.verify(token, issuers, typ="Refresh")
    except InvalidToken as exc:
        if str(exc) == "Token is not active":
            raise OAuthError(400, "invalid_grant", "Token is not active") from None
        raise OAuthError(400, "invalid_grant", "Invalid refresh token") from None
    if claims.get("azp") != client.client_id:
        raise OAuthError(
            400,
            "invalid_grant",
            "Invalid refresh token. Token client and authorized client don't match",
        )
    auth = active_session(session, claims.get("sid"))
    if auth is None or auth.user_id is None:
        raise OAuthError(400, "invalid_grant", "Session not active")
    # the token is used up by one atomic update: of parallel uses of one token, only one wins
    used = session.execute(
        update(AuthSession)
        .where(AuthSession.id == auth.id, AuthSession.refresh_jti == str(claims.get("jti")))
        .values(refresh_jti=None)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(used) != 1:
        auth.revoked_at = now()  # a refresh token used twice: someone else may hold it
        raise OAuthError(400, "invalid_grant", "Stale token")
    user = session.get(User, auth.user_id)
    if user is None or not user.enabled:
        auth.revoked_at = now()
        raise OAuthError(400, "invalid_grant", "Session not active")
    auth.expires_at = now() + timedelta(seconds=settings.refresh_token_lifetime)
    return session_response(session, tokens, issuer, auth, user, client)


def client_credentials_grant(
    session: Session, tokens: Tokens, issuer: str, client: OAuthClient, form: dict[str, str]
) -> dict[str, Any]:
    _require_grant(client, "client_credentials")
    if client.secret_hash is None:
        raise OAuthError(
            401, "unauthorized_client", "Public client not allowed to retrieve service account"
        )
    tokens.keystore.reload(session)
    scope = _scope(form.get("scope"))
    return {
        "access_token": tokens.access_token(
            issuer, subject_of_client(client), client.client_id, scope, None
        ),
        "expires_in": tokens.access_lifetime,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": scope,
    }


def new_authorization_code(
    session: Session,
    client: OAuthClient,
    user: User,
    redirect_uri: str,
    code_challenge: str | None,
    scope: str,
    nonce: str | None,
) -> str:
    code = secrets.token_urlsafe(32)
    session.add(
        AuthorizationCode(
            code_hash=_sha256(code),
            client_id=client.id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            scope=_scope(scope),
            nonce=nonce,
            expires_at=now() + CODE_LIFETIME,
        )
    )
    session.flush()
    return code


def authorization_code_grant(
    session: Session,
    settings: Settings,
    tokens: Tokens,
    issuer: str,
    client: OAuthClient,
    form: dict[str, str],
) -> dict[str, Any]:
    _require_grant(client, "authorization_code")
    code_hash = _sha256(form.get("code", ""))
    # marked used by one atomic update: of parallel exchanges of one code, only one wins
    claimed = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.code_hash == code_hash, AuthorizationCode.used.is_(False))
        .values(used=True)
    )
    row = session.get(AuthorizationCode, code_hash) if _rowcount(claimed) == 1 else None
    if row is None or row.client_id != client.id or _aware(row.expires_at) <= now():
        raise OAuthError(400, "invalid_grant", "Code not valid")
    if form.get("redirect_uri", "") != row.redirect_uri:
        raise OAuthError(400, "invalid_grant", "Incorrect redirect_uri")
    if row.code_challenge is not None:
        verifier = form.get("code_verifier", "")
        digest = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        if not verifier or not hmac.compare_digest(digest, row.code_challenge):
            raise OAuthError(400, "invalid_grant", "PKCE verification failed: Code mismatch")
    user = session.get(User, row.user_id)
    if user is None or not user.enabled:
        raise OAuthError(400, "invalid_grant", "Account disabled")
    auth = start_session(session, settings, user, client, row.scope)
    return session_response(session, tokens, issuer, auth, user, client, nonce=row.nonce)


def revoke_session_of(
    session: Session,
    tokens: Tokens,
    issuers: set[str],
    token: str,
    client: OAuthClient | None = None,
) -> bool:
    """End the session a (refresh or access) token belongs to. False if it is not ours."""
    try:
        claims = tokens.verify(token, issuers, typ=None)
    except InvalidToken:
        return False
    if client is not None and claims.get("azp") != client.client_id:
        return False
    auth = active_session(session, claims.get("sid"))
    if auth is not None:
        auth.revoked_at = now()
    return auth is not None
