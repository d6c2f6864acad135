"""Trusting an external Keycloak realm (SODATA_OIDC_ISSUER).

The "external Keycloak" is a second sodata demo server: its embedded provider is a
Keycloak-compatible realm. A third server, with its own demo database, trusts that realm:
users are matched by their (verified) email, rights come from the third server's own links.
These tests run once (SQLite), whatever the backends of the rest of the suite; they run in
file order, the provider being stopped by the last one.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from sodata.demo import ids
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.models import SigningKey
from tests.conftest import Server

REALM = "/realms/sodata"
ACCOUNTS = "/api/v1/ca"
ALL_DEMO_ACCOUNTS = {str(ids.SOLINK), str(ids.SOCOMEC), str(ids.ENERGY_STORAGE)}


def _database(server: Server) -> Path:
    return server.log_path.parent / "sodata-test.db"


def _check_log(server: Server, name: str) -> None:
    errors = server.unexpected_errors()
    if errors is not None:
        pytest.fail(f"the {name} server logged an unexpected error:\n{errors}")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The external Keycloak: a plain demo server."""
    srv = Server("sqlite", tmp_path_factory.mktemp("external-idp"))
    yield srv
    srv.stop()
    _check_log(srv, "identity provider")


@pytest.fixture(scope="module")
def trusting(idp: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server (its own database) that trusts the realm of `idp`."""
    srv = Server(
        "sqlite",
        tmp_path_factory.mktemp("trusting"),
        env={"SODATA_OIDC_ISSUER": f"{idp.url}{REALM}"},
    )
    yield srv
    srv.stop()
    _check_log(srv, "trusting")


def sign_in(server: Server, email: str, host: str = "127.0.0.1", password: str = DEMO_PASSWORD):
    """An access token of the server's realm, asked for at `host` (its issuer names it)."""
    answer = httpx.post(
        f"http://{host}:{server.port}{REALM}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": email,
            "password": password,
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def call(server: Server, token: str, path: str = ACCOUNTS, method: str = "GET", **kw: Any):
    return httpx.request(
        method,
        server.url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kw,
    )


def accounts(server: Server, token: str) -> set[str]:
    answer = call(server, token)
    assert answer.status_code == 200, answer.text
    page = answer.json()
    assert page["total"] == len(page["results"])
    return {a["uuid"] for a in page["results"]}


def refused(answer: httpx.Response) -> str:
    """The reason of a 401, which must challenge for a Bearer token."""
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")
    return answer.json()["message"]


def sodata_cli(server: Server, *args: str, stdin: str | None = None) -> None:
    """The management CLI on the server's database, as an operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "sodata", *args, "--db", str(_database(server))],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def signing_key(server: Server) -> SigningKey:
    engine = create_engine(f"sqlite:///{_database(server)}")
    try:
        with Session(engine) as session:
            return session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.id.desc())
            ).first()
    finally:
        engine.dispose()


def forge(claims: dict[str, Any], pem: str | bytes, kid: str, **changes: Any) -> str:
    return jwt.encode({**claims, **changes}, pem, algorithm="RS256", headers={"kid": kid})


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def new_user(server: Server, **link: str) -> str:
    """A user created with the CLI (linked to an account with a role when given)."""
    email = f"ext-{uuid.uuid4().hex[:10]}@example.com"
    sodata_cli(server, "users", "create", email, "--password-stdin", stdin="ext-password-1\n")
    if link:
        sodata_cli(server, "users", "link", email, link["account"], "--role", link["role"])
    return email


def test_tokens_of_the_trusted_realm_are_accepted(idp: Server, trusting: Server) -> None:
    expected = {
        ids.DEMO_EMAIL: {str(ids.SOLINK)},
        ids.VIEWER_EMAIL: {str(ids.SOLINK)},
        ids.OTHER_EMAIL: {str(ids.ENERGY_STORAGE)},
        ids.ADMIN_EMAIL: ALL_DEMO_ACCOUNTS,
    }
    for email, visible in expected.items():
        assert accounts(trusting, sign_in(idp, email)) == visible, email
    demo = sign_in(idp, ids.DEMO_EMAIL)
    device = f"{ACCOUNTS}/{ids.SOLINK}/devices/{ids.MASTERYS_U2_CDS}"
    assert call(trusting, demo, device).json()["serialNumber"] == ids.MASTERYS_SERIAL
    assert call(trusting, demo, f"{ACCOUNTS}/{ids.SOCOMEC}").status_code == 404
    viewer = sign_in(idp, ids.VIEWER_EMAIL)
    assert call(trusting, viewer, device, "PUT", json={"name": "x"}).status_code == 403


def test_users_are_matched_by_email_not_by_subject(idp: Server, trusting: Server) -> None:
    """The same email on both sides, two unrelated user uuids: the trusting server's own link
    (viewer in SoLink) decides."""
    email = new_user(idp)
    sodata_cli(trusting, "users", "create", email.upper(), "--password-stdin", stdin="other-pw-1\n")
    sodata_cli(trusting, "users", "link", email, "SoLink", "--role", "viewer")
    token = sign_in(idp, email, password="ext-password-1")
    assert accounts(trusting, token) == {str(ids.SOLINK)}
    users = call(trusting, token, f"{ACCOUNTS}/{ids.SOLINK}/users").json()["results"]
    mine = next(u for u in users if u["email"].lower() == email)
    assert mine["uuid"] != claims_of(token)["sub"] and mine["role"] == "viewer"


def test_a_user_unknown_here_sees_no_account(idp: Server, trusting: Server) -> None:
    token = sign_in(idp, new_user(idp), password="ext-password-1")
    answer = call(trusting, token)
    assert answer.status_code == 200
    assert answer.json()["total"] == 0 and answer.json()["results"] == []
    assert call(trusting, token, f"{ACCOUNTS}/{ids.SOLINK}").status_code == 404
    assert call(trusting, token, ACCOUNTS, "POST", json={"name": "Mine"}).status_code == 403
    assert call(trusting, token, "/api/v1/device-types").status_code == 200


def test_an_unverified_email_names_nobody(idp: Server, trusting: Server) -> None:
    """Where the realm lets people sign up, anyone may claim admin@example.com unverified."""
    key = signing_key(idp)
    claims = claims_of(sign_in(idp, ids.ADMIN_EMAIL))
    assert accounts(trusting, forge(claims, key.private_pem, key.kid)) == ALL_DEMO_ACCOUNTS
    unverified = forge(claims, key.private_pem, key.kid, email_verified=False)
    assert accounts(trusting, unverified) == set()


def test_the_embedded_provider_is_absent(trusting: Server) -> None:
    oidc = f"{REALM}/protocol/openid-connect"
    for prefix in ("", "/auth"):
        for path in (REALM, f"{REALM}/.well-known/openid-configuration", f"{oidc}/certs"):
            assert httpx.get(trusting.url + prefix + path).status_code == 404, prefix + path
        token = httpx.post(
            f"{trusting.url}{prefix}{oidc}/token",
            data={"grant_type": "password", "username": ids.DEMO_EMAIL, "password": DEMO_PASSWORD},
        )
        assert token.status_code == 404


def test_tokens_of_other_issuers_are_refused(idp: Server, trusting: Server) -> None:
    claims = claims_of(sign_in(idp, ids.DEMO_EMAIL))
    # the trusting server's own (unused) embedded key, for its own realm
    own = signing_key(trusting)
    own_realm = f"{trusting.url}{REALM}"
    assert "another issuer" in refused(
        call(trusting, forge(claims, own.private_pem, own.kid, iss=own_realm))
    )
    # the same provider reached at another address is another issuer
    assert "another issuer" in refused(
        call(trusting, sign_in(idp, ids.DEMO_EMAIL, host="localhost"))
    )
    # signed by the trusted key, but for another realm
    key = signing_key(idp)
    master = f"{idp.url}/realms/master"
    assert "another issuer" in refused(
        call(trusting, forge(claims, key.private_pem, key.kid, iss=master))
    )
    now = int(time.time())
    expired = forge(claims, key.private_pem, key.kid, iat=now - 900, exp=now - 600)
    assert "not active" in refused(call(trusting, expired))
    refused(call(trusting, "not-a-token"))
    assert "Missing" in refused(httpx.get(trusting.url + ACCOUNTS))


@pytest.mark.parametrize(
    ("audience", "accepted"),
    [("sodata-demo", True), ("other-client, sodata-demo", True), ("other-client", False)],
)
def test_tokens_of_other_clients_of_the_realm_are_refused(
    idp: Server, tmp_path_factory: pytest.TempPathFactory, audience: str, accepted: bool
) -> None:
    """Every client of the realm gets tokens from it; SODATA_OIDC_AUDIENCE names those meant
    for this server (the token's `azp`, or one in its `aud`)."""
    srv = Server(
        "sqlite",
        tmp_path_factory.mktemp("audience"),
        env={"SODATA_OIDC_ISSUER": f"{idp.url}{REALM}", "SODATA_OIDC_AUDIENCE": audience},
    )
    try:
        token = sign_in(idp, ids.DEMO_EMAIL)
        assert claims_of(token)["azp"] == DEMO_CLIENT_ID
        if accepted:
            assert accounts(srv, token) == {str(ids.SOLINK)}
        else:
            assert "another client" in refused(call(srv, token))
            key = signing_key(idp)  # a token of the realm meant for this client too
            aud = forge(claims_of(token), key.private_pem, key.kid, aud=["account", audience])
            assert accounts(srv, aud) == {str(ids.SOLINK)}
    finally:
        srv.stop()
    _check_log(srv, "audience")


def _rsa_pem() -> bytes:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_unknown_keys_refetch_the_jwks_and_rotation_is_followed(
    idp: Server, trusting: Server
) -> None:
    before = sign_in(idp, ids.DEMO_EMAIL)
    assert accounts(trusting, before) == {str(ids.SOLINK)}
    claims = claims_of(before)
    # a key the realm never had: looked for (a refetch), not found
    assert "unknown key" in refused(call(trusting, forge(claims, _rsa_pem(), "made-up-kid")))
    # another key under the trusted kid
    assert "invalid token" in refused(call(trusting, forge(claims, _rsa_pem(), claims_kid(before))))

    sodata_cli(idp, "keys", "rotate")
    after = sign_in(idp, ids.DEMO_EMAIL)
    assert claims_kid(after) != claims_kid(before)
    # the new kid is unknown to the trusting server's cache: it refetches the JWKS at once
    assert accounts(trusting, after) == {str(ids.SOLINK)}
    assert accounts(trusting, before) == {str(ids.SOLINK)}  # the retired key is still published


def claims_kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_keys_stay_cached_while_the_provider_is_down(idp: Server, trusting: Server) -> None:
    token = sign_in(idp, ids.VIEWER_EMAIL)
    assert accounts(trusting, token) == {str(ids.SOLINK)}
    idp.stop()
    assert accounts(trusting, token) == {str(ids.SOLINK)}
    started = time.monotonic()
    unknown = forge(claims_of(token), _rsa_pem(), "kid-while-down")
    assert "unknown key" in refused(call(trusting, unknown))
    assert accounts(trusting, token) == {str(ids.SOLINK)}  # the failed refetch kept the keys
    assert time.monotonic() - started < 5
