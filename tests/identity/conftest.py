"""Helpers of the identity tests: a second demo server with short token lifetimes and a quick
lockout, in the test process, whose clock the tests move forward (so that expiry and lockout
are seen without waiting), and direct access to a server's database (to read its signing keys
and hashes, or rotate its keys as an operator would)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from tests.conftest import PG_ADMIN_URL, Server, Shared
from tests.inprocess import InProcessServer, shared_in_process

REALM = "sodata"
OIDC = f"/realms/{REALM}/protocol/openid-connect"
SHORT = {
    "SODATA_ACCESS_TOKEN_LIFETIME": "5",
    "SODATA_REFRESH_TOKEN_LIFETIME": "15",
    "SODATA_LOCKOUT_FAILURES": "3",
    "SODATA_LOCKOUT_SECONDS": "5",
}
BAD_CREDENTIALS = {"error": "invalid_grant", "error_description": "Invalid user credentials"}
AnyServer = Server | InProcessServer
BAD_CLIENT = {
    "error": "invalid_client",
    "error_description": "Invalid client or Invalid client credentials",
}


@pytest.fixture(scope="session")
def _short_server(
    server: Server, tmp_path_factory: pytest.TempPathFactory, shared: Shared
) -> InProcessServer:
    return shared_in_process(shared, tmp_path_factory, "short", server.backend, SHORT)


@pytest.fixture
def short_server(_short_server: InProcessServer) -> Iterator[InProcessServer]:
    """A demo server on the same backend as `server`, with access tokens of 5 s, refresh
    tokens of 15 s and a lockout of 5 s after 3 failed sign-ins; in the test process, whose
    clock travels during the test: `short_server.advance(seconds)` instead of sleeping."""
    with _short_server.travelling():
        yield _short_server


def database_engine(server: AnyServer) -> Engine:
    """An engine on the database the server runs on (as tests/conftest.py lays it out)."""
    if server.pg_name:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        return create_engine(f"{base}/{server.pg_name}")
    return create_engine(f"sqlite:///{server.log_path.parent / 'sodata-test.db'}")


def password_form(username: str, password: str = DEMO_PASSWORD, **extra: str) -> dict[str, str]:
    """The form of the spec's section 6.2 (client credentials in the body)."""
    return {
        "grant_type": "password",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": username,
        "password": password,
        **extra,
    }


def token_request(server: AnyServer, form: dict[str, str], **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{OIDC}/token", data=form, timeout=30, **kwargs)


def sign_in(server: AnyServer, username: str, **extra: str) -> dict[str, Any]:
    answer = token_request(server, password_form(username, **extra))
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(server: AnyServer, refresh_token: str) -> httpx.Response:
    return token_request(
        server,
        {
            "grant_type": "refresh_token",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": refresh_token,
        },
    )


def api_get(server: AnyServer, path: str, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def basic(client_id: str, secret: str = "") -> dict[str, str]:
    """HTTP Basic client authentication, as Swagger UI sends it (an empty secret for a public
    client)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
