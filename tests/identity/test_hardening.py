"""What an unauthenticated caller must not be able to do to the provider: make it hash for
free (unknown clients, locked emails), fill its memory (huge usernames, bodies, forms, a
table of guessed emails), steal codes through loose redirect patterns, frame the sign-in
page; and a disabled account's right password must not clear its failures."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sodata.config import Settings
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_PASSWORD
from sodata.demo.ids import DEMO_EMAIL, VIEWER_EMAIL
from sodata.identity import passwords
from sodata.identity import service as identity_service
from sodata.identity.service import OAuthError
from sodata.models import SignInFailure, User
from tests.conftest import Server, fresh_database, open_session
from tests.identity.conftest import (
    BAD_CLIENT,
    BAD_CREDENTIALS,
    OIDC,
    AnyServer,
    basic,
    database_engine,
    password_form,
    pkce_pair,
    sign_in,
    token_request,
)
from tests.inprocess import InProcessServer

SWAGGER = "sodata-swagger"
SWAGGER_REDIRECT = "/docs/swagger-ui/oauth2-redirect.html"
TOO_LARGE = {"error": "invalid_request", "error_description": "Request too large"}
CSP = "frame-ancestors 'none'; default-src 'self'; style-src 'unsafe-inline'"


def _failure_rows(server: AnyServer) -> dict[str, SignInFailure]:
    engine = database_engine(server)
    try:
        with Session(engine) as session:
            rows = list(session.scalars(select(SignInFailure)))
            session.expunge_all()
            return {row.email: row for row in rows}
    finally:
        engine.dispose()


# --- no argon2 work for free ---------------------------------------------------------------


def test_unknown_clients_are_refused_without_hashing(server: Server) -> None:
    """Client ids are not secret: an unknown one is refused at once on every endpoint that
    authenticates clients; a known one with a wrong secret costs an argon2 verification."""
    unknown = {"client_id": "no-such-client", "client_secret": "x"}
    endpoints = {
        "/token": {**unknown, "grant_type": "client_credentials"},
        "/revoke": {**unknown, "token": "x"},
        "/logout": {**unknown, "refresh_token": "x"},
        "/token/introspect": {**unknown, "token": "x"},
    }
    for path, form in endpoints.items():
        answer = httpx.post(f"{server.url}{OIDC}{path}", data=form)
        assert (answer.status_code, answer.json()) == (401, BAD_CLIENT), path
    answer = token_request(server, {"grant_type": "client_credentials"}, headers=basic("nobody"))
    assert (answer.status_code, answer.json()) == (401, BAD_CLIENT)

    wrong_secret = {"client_id": DEMO_CLIENT_ID, "client_secret": "wrong"}
    assert token_request(server, {**wrong_secret, "grant_type": "x"}).json() == BAD_CLIENT


class CountingHasher:
    """Stands in for argon2 in-process, to count the hashing work a call does."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, stored: str, secret: str) -> bool:
        self.calls += 1
        return False

    def hash(self, secret: str) -> str:
        self.calls += 1
        return "hash"


@pytest.fixture
def db_session(tmp_path: Path) -> Iterator[Session]:
    with fresh_database("sqlite", tmp_path) as url, open_session(url) as session:
        yield session


def test_no_hashing_for_an_unknown_client(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", lambda: counter)
    monkeypatch.setattr(passwords, "_dummy", lambda: "the hash unknown emails are checked against")
    with pytest.raises(OAuthError):
        identity_service.authenticate_client(db_session, "no-such-client", "x")
    assert counter.calls == 0


def test_no_hashing_for_a_locked_email(
    db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", lambda: counter)
    monkeypatch.setattr(passwords, "_dummy", lambda: "the hash unknown emails are checked against")
    settings = Settings(lockout_failures=2, lockout_seconds=60)
    email = "locked@example.com"
    for _ in range(2):
        with pytest.raises(OAuthError):
            identity_service.check_password(db_session, settings, email, "guess", via="test")
    hashed_before_lock = counter.calls
    assert hashed_before_lock == 2  # unknown emails still cost one verification each
    with pytest.raises(OAuthError) as refused:
        identity_service.check_password(db_session, settings, email, "guess", via="test")
    assert refused.value.description == "Invalid user credentials"
    assert counter.calls == hashed_before_lock


def test_argon2_runs_on_at_most_one_slot_per_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """However many requests arrive at once, argon2 (64 MiB each) runs on os.cpu_count()
    threads at most."""
    running, peak, lock = 0, 0, threading.Lock()

    class SlowHasher:
        def _work(self) -> str:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1
            return "hash"

        def verify(self, stored: str, secret: str) -> bool:
            return self._work() == "hash"

        def hash(self, secret: str) -> str:
            return self._work()

    slow = SlowHasher()
    monkeypatch.setattr(passwords, "_hasher", lambda: slow)
    monkeypatch.setattr(passwords, "_slots", threading.BoundedSemaphore(2))
    threads = [
        threading.Thread(target=passwords.verify_secret, args=("h", "s")) for _ in range(12)
    ] + [threading.Thread(target=passwords.hash_secret, args=("s",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 2 and running == 0


def _swagger_sign_in(server: AnyServer, username: str, password: str) -> httpx.Response:
    """A sign-in through the page of the public client: no client secret to verify, so the
    password is the only argon2 work."""
    _, challenge = pkce_pair()
    form = {
        "response_type": "code",
        "client_id": SWAGGER,
        "redirect_uri": server.url + SWAGGER_REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "username": username,
        "password": password,
    }
    return httpx.post(f"{server.url}{OIDC}/auth", data=form, timeout=30)


def test_a_locked_email_is_refused_before_hashing(short_server: InProcessServer) -> None:
    locked = f"locked-{secrets.token_hex(4)}@example.com"
    for _ in range(3):
        assert token_request(short_server, password_form(locked, "guess")).status_code == 401
    refused = _swagger_sign_in(short_server, locked, "guess")
    assert refused.status_code == 200 and "Invalid username or password." in refused.text


# --- bounded memory ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    ["a" * 200 + "@" + "b" * 60, "x" * 100_000 + "@example.com", "no-at-sign"],
    ids=["256 chars", "100 kB", "not an email"],
)
def test_impossible_usernames_are_not_stored(server: Server, username: str) -> None:
    answer = httpx.post(
        f"{server.url}{OIDC}/token",
        data=password_form(username, "guess"),
        timeout=30,
    )
    if len(username) > 60_000:
        assert answer.status_code == 413
    else:
        assert (answer.status_code, answer.json()) == (401, BAD_CREDENTIALS)
    assert username.lower() not in _failure_rows(server)


def test_old_failures_are_forgotten(short_server: InProcessServer) -> None:
    """Rows of failures older than a lockout (5 s here) go when another failure is
    recorded: a flood of guessed emails does not grow the table for ever."""
    first = f"first-{secrets.token_hex(4)}@example.com"
    token_request(short_server, password_form(first, "guess"))
    assert _failure_rows(short_server)[first].failures == 1
    short_server.advance(5.5)
    second = f"second-{secrets.token_hex(4)}@example.com"
    token_request(short_server, password_form(second, "guess"))
    rows = _failure_rows(short_server)
    assert first not in rows
    assert rows[second].failures == 1


def test_large_bodies_are_refused(server: Server) -> None:
    token = f"{server.url}{OIDC}/token"
    form = password_form(DEMO_EMAIL, "x" * 70_000)
    answer = httpx.post(token, data=form)
    assert (answer.status_code, answer.json()) == (413, TOO_LARGE)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is cut while read
        yield b"grant_type=password&username=a%40b.c&password="
        for _ in range(200):
            yield b"x" * 1024

    answer = httpx.post(
        token, content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "content-length" not in answer.request.headers
    assert (answer.status_code, answer.json()) == (413, TOO_LARGE)

    many = {**password_form(DEMO_EMAIL), **{f"f{i}": "1" for i in range(150)}}
    answer = httpx.post(token, data=many)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    answer = httpx.post(f"{server.url}{OIDC}/auth", data={"username": "x" * 70_000})
    assert (answer.status_code, answer.json()) == (413, TOO_LARGE)
    sign_in(server, DEMO_EMAIL)  # and the server is fine


# --- redirects -----------------------------------------------------------------------------

ATTACKS = [
    "http://127.0.0.1@evil.com/",
    "http://localhost.evil.com/cb",
    "http://127.0.0.1:80@evil.com/cb",
    "http://127.0.0.1\\@evil.com/cb",
    "https://oauth.pstmn.io.evil.com/v1/callback",
    "https://oauth.pstmn.io:8443/v1/callback",
    "https://127.0.0.1/cb",
]


@pytest.mark.parametrize("redirect_uri", ATTACKS)
def test_look_alike_redirects_are_refused(server: Server, redirect_uri: str) -> None:
    params = {
        "response_type": "code",
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "state": "s",
    }
    for answer in (
        httpx.get(f"{server.url}{OIDC}/auth", params=params),
        httpx.post(
            f"{server.url}{OIDC}/auth",
            data={**params, "username": DEMO_EMAIL, "password": DEMO_PASSWORD},
        ),
    ):
        assert answer.status_code == 400
        assert "location" not in answer.headers
        assert "redirect_uri" in answer.text
    logout = httpx.get(
        f"{server.url}{OIDC}/logout",
        params={"client_id": DEMO_CLIENT_ID, "post_logout_redirect_uri": redirect_uri},
    )
    assert logout.status_code == 200
    assert "location" not in logout.headers
    assert "You are logged out" in logout.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8765/callback",
        "http://localhost:51000/a/b?x=1",
        "http://127.0.0.1/",
        "https://oauth.pstmn.io/v1/callback",
    ],
)
def test_registered_redirects_still_work(server: Server, redirect_uri: str) -> None:
    """Loopback redirects on any port (RFC 8252), any path under the pattern."""
    answer = httpx.post(
        f"{server.url}{OIDC}/auth",
        data={
            "response_type": "code",
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "username": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
        },
    )
    assert answer.status_code == 302, answer.text
    assert answer.headers["location"].startswith(redirect_uri)
    logout = httpx.get(
        f"{server.url}{OIDC}/logout",
        params={"client_id": DEMO_CLIENT_ID, "post_logout_redirect_uri": redirect_uri},
    )
    assert (logout.status_code, logout.headers["location"]) == (302, redirect_uri)


# --- framing -------------------------------------------------------------------------------


def test_pages_may_not_be_framed(server: Server) -> None:
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": SWAGGER,
        "redirect_uri": server.url + SWAGGER_REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    auth = f"{server.url}{OIDC}/auth"
    pages = [
        httpx.get(auth, params=params),  # the sign-in page
        httpx.post(auth, data={**params, "username": DEMO_EMAIL, "password": "wrong"}),
        httpx.get(auth, params={**params, "client_id": "nobody"}),  # an error page
        httpx.get(f"{server.url}{OIDC}/logout"),
    ]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["content-security-policy"] == CSP


# --- disabled accounts ---------------------------------------------------------------------


def _set_enabled(server: AnyServer, email: str, enabled: bool) -> None:
    engine = database_engine(server)
    try:
        with Session(engine) as session, session.begin():
            session.execute(update(User).where(User.email == email).values(enabled=enabled))
    finally:
        engine.dispose()


def test_a_disabled_accounts_password_does_not_clear_failures(
    short_server: InProcessServer,
) -> None:
    """2 failures, then the right password while disabled ("Account disabled", as Keycloak),
    then one more failure once enabled again: the lockout (3 failures) is reached."""
    form = password_form(VIEWER_EMAIL, "guess")
    for _ in range(2):
        assert token_request(short_server, form).json() == BAD_CREDENTIALS
    _set_enabled(short_server, VIEWER_EMAIL, False)
    try:
        disabled = token_request(short_server, password_form(VIEWER_EMAIL))
        assert (disabled.status_code, disabled.json()) == (
            400,
            {"error": "invalid_grant", "error_description": "Account disabled"},
        )
    finally:
        _set_enabled(short_server, VIEWER_EMAIL, True)
    assert token_request(short_server, form).json() == BAD_CREDENTIALS
    locked = token_request(short_server, password_form(VIEWER_EMAIL))
    assert (locked.status_code, locked.json()) == (401, BAD_CREDENTIALS)
    short_server.advance(5.5)
    sign_in(short_server, VIEWER_EMAIL)
