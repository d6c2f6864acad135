"""What the provider must refuse: replayed refresh tokens, tokens of ended sessions, guessed
passwords, tokens of other realms, issuers or keys, expired tokens; and what it must keep:
tokens signed before a key rotation, and no password or client secret in clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from keycloak import KeycloakOpenID
from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, USERS
from sodata.demo.ids import ADMIN_EMAIL, DEMO_EMAIL, OTHER_EMAIL
from sodata.identity.keys import rotate
from sodata.models import OAuthClient, SigningKey, User
from tests.conftest import Server
from tests.identity.conftest import (
    BAD_CREDENTIALS,
    OIDC,
    REALM,
    AnyServer,
    api_get,
    basic,
    database_engine,
    password_form,
    refresh,
    sign_in,
    token_request,
)
from tests.inprocess import InProcessServer

CA_LIST = "/api/v1/ca"


def _logout(server: AnyServer, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}{OIDC}/logout",
        data={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": refresh_token,
        },
    )


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _signing_key(server: AnyServer) -> SigningKey:
    """The key the server signs with, read from its database."""
    engine = database_engine(server)
    try:
        with Session(engine) as session:
            key = session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.id.desc())
            ).first()
            assert key is not None
            session.expunge(key)
            return key
    finally:
        engine.dispose()


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"].startswith("Bearer")


# --- sessions ------------------------------------------------------------------------------


def test_refresh_tokens_rotate_and_a_replay_ends_the_session(server: Server) -> None:
    first = sign_in(server, DEMO_EMAIL)
    second = refresh(server, first["refresh_token"])
    assert second.status_code == 200
    second_token = second.json()
    assert second_token["refresh_token"] != first["refresh_token"]

    replay = refresh(server, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json() == {"error": "invalid_grant", "error_description": "Stale token"}
    # someone else may hold the stolen token: the whole session ends
    after = refresh(server, second_token["refresh_token"])
    assert after.json() == {"error": "invalid_grant", "error_description": "Session not active"}
    _assert_refused(api_get(server, CA_LIST, second_token["access_token"]))


def test_logout_ends_refresh_and_access_tokens(server: Server) -> None:
    token = sign_in(server, DEMO_EMAIL)
    other = sign_in(server, DEMO_EMAIL)  # another session of the same user
    assert api_get(server, CA_LIST, token["access_token"]).status_code == 200
    assert _logout(server, token["refresh_token"]).status_code == 204

    _assert_refused(api_get(server, CA_LIST, token["access_token"]))
    userinfo = api_get(server, f"{OIDC}/userinfo", token["access_token"])
    assert userinfo.status_code == 401
    assert refresh(server, token["refresh_token"]).json()["error_description"] == (
        "Session not active"
    )
    assert api_get(server, CA_LIST, other["access_token"]).status_code == 200


def test_logout_with_another_clients_credentials_is_refused(server: Server) -> None:
    token = sign_in(server, DEMO_EMAIL)
    answer = httpx.post(
        f"{server.url}{OIDC}/logout",
        data={"refresh_token": token["refresh_token"]},
        headers=basic("sodata-swagger"),
    )
    assert answer.status_code == 400
    assert api_get(server, CA_LIST, token["access_token"]).status_code == 200


def test_revocation_ends_the_session(server: Server) -> None:
    token = sign_in(server, DEMO_EMAIL)
    answer = httpx.post(
        f"{server.url}{OIDC}/revoke",
        data={
            "token": token["refresh_token"],
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
    )
    assert answer.status_code == 200
    _assert_refused(api_get(server, CA_LIST, token["access_token"]))


def test_refresh_token_of_another_client(server: Server) -> None:
    """The public client must not be able to use a confidential client's refresh token."""
    token = sign_in(server, DEMO_EMAIL)
    answer = token_request(
        server,
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        headers=basic("sodata-swagger"),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    assert refresh(server, token["refresh_token"]).status_code == 200


def test_parallel_uses_of_a_refresh_token(server: Server) -> None:
    """A refresh token used twice at the same moment (a thief racing its owner) renews the
    session once; the other use is a replay and ends the session."""
    token = sign_in(server, DEMO_EMAIL)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: refresh(server, token["refresh_token"]), range(6)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400, 400, 400]
    assert {a.json()["error"] for a in answers if a.status_code == 400} == {"invalid_grant"}
    winner = next(a.json() for a in answers if a.status_code == 200)
    _assert_refused(api_get(server, CA_LIST, winner["access_token"]))


def test_public_client_may_not_introspect(server: Server) -> None:
    token = sign_in(server, DEMO_EMAIL)
    answer = httpx.post(
        f"{server.url}{OIDC}/token/introspect",
        data={"token": token["access_token"]},
        headers=basic("sodata-swagger"),
    )
    assert answer.status_code == 403
    assert answer.json() == {"error": "invalid_request", "error_description": "Client not allowed."}


def test_tokens_are_used_only_for_what_they_are(server: Server) -> None:
    token = sign_in(server, DEMO_EMAIL, scope="openid")
    _assert_refused(api_get(server, CA_LIST, token["refresh_token"]))
    _assert_refused(api_get(server, CA_LIST, token["id_token"]))
    answer = refresh(server, token["access_token"])
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


# --- brute force ---------------------------------------------------------------------------


def test_lockout_after_repeated_failures(short_server: InProcessServer) -> None:
    """3 failures lock the account for 5 s; meanwhile even the right password gets the answer
    of bad credentials (nothing tells a guesser that the account exists or is locked)."""
    for _ in range(3):
        answer = token_request(short_server, password_form(OTHER_EMAIL, "guess"))
        assert (answer.status_code, answer.json()) == (401, BAD_CREDENTIALS)
    locked = token_request(short_server, password_form(OTHER_EMAIL))
    assert (locked.status_code, locked.json()) == (401, BAD_CREDENTIALS)
    # the sign-in page refuses it too
    page = httpx.post(
        f"{short_server.url}{OIDC}/auth",
        data={
            "client_id": DEMO_CLIENT_ID,
            "redirect_uri": "http://127.0.0.1:9999/callback",
            "response_type": "code",
            "username": OTHER_EMAIL,
            "password": DEMO_PASSWORD,
        },
    )
    assert page.status_code == 200
    assert "location" not in page.headers
    assert "Invalid username or password." in page.text

    short_server.advance(5.5)
    sign_in(short_server, OTHER_EMAIL)


def test_parallel_guesses_all_count(short_server: InProcessServer) -> None:
    """Guesses sent at once are decided one after the other: 3 wrong ones lock the account
    as surely as 3 in a row."""
    with ThreadPoolExecutor(3) as pool:
        answers = list(
            pool.map(
                lambda _: token_request(short_server, password_form(ADMIN_EMAIL, "guess")),
                range(3),
            )
        )
    assert [a.status_code for a in answers] == [401, 401, 401]
    locked = token_request(short_server, password_form(ADMIN_EMAIL))
    assert (locked.status_code, locked.json()) == (401, BAD_CREDENTIALS)
    short_server.advance(5.5)
    sign_in(short_server, ADMIN_EMAIL)


def test_lockout_is_per_account(short_server: InProcessServer) -> None:
    for _ in range(3):
        token_request(short_server, password_form("guessed@example.com", "guess"))
    sign_in(short_server, DEMO_EMAIL)


# --- keys ----------------------------------------------------------------------------------


def test_key_rotation_keeps_older_tokens_valid(server: Server) -> None:
    before = sign_in(server, DEMO_EMAIL)
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]

    engine = database_engine(server)
    try:
        with Session(engine) as session, session.begin():
            new_kid = rotate(session).kid
    finally:
        engine.dispose()

    after = sign_in(server, DEMO_EMAIL)
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    kids = {k["kid"] for k in httpx.get(f"{server.url}{OIDC}/certs").json()["keys"]}
    assert {old_kid, new_kid} <= kids
    for token in (before, after):
        assert api_get(server, CA_LIST, token["access_token"]).status_code == 200
    refreshed = refresh(server, before["refresh_token"])  # a refresh token of the old key
    assert refreshed.status_code == 200, refreshed.text
    assert jwt.get_unverified_header(refreshed.json()["access_token"])["kid"] == new_kid

    oidc = KeycloakOpenID(
        server_url=f"{server.url}/",
        realm_name=REALM,
        client_id=DEMO_CLIENT_ID,
        client_secret_key=DEMO_CLIENT_SECRET,
    )
    assert oidc.decode_token(before["access_token"])["preferred_username"] == DEMO_EMAIL
    assert oidc.decode_token(after["access_token"])["preferred_username"] == DEMO_EMAIL
    # the realm's public key is the new signing key
    public = serialization.load_der_public_key(base64.b64decode(oidc.public_key()))
    jwt.decode(after["access_token"], public, algorithms=["RS256"], options={"verify_aud": False})


def test_realm_public_key(server: Server) -> None:
    realm = httpx.get(f"{server.url}/realms/{REALM}").json()
    assert realm["realm"] == REALM
    assert realm["token-service"] == f"{server.url}/realms/{REALM}/protocol/openid-connect"
    public = serialization.load_der_public_key(base64.b64decode(realm["public_key"]))
    token = sign_in(server, DEMO_EMAIL)["access_token"]
    assert jwt.decode(token, public, algorithms=["RS256"], audience="account")["sub"]


@pytest.mark.parametrize(
    "issuer",
    ["{url}/realms/master", "{url}/auth/realms/master", "https://evil.example.com/realms/sodata"],
    ids=["other realm", "other realm at /auth", "other issuer"],
)
def test_token_of_another_issuer_is_refused(server: Server, issuer: str) -> None:
    """Signed with the server's own key: only the issuer is wrong."""
    key = _signing_key(server)
    claims = _claims(sign_in(server, DEMO_EMAIL)["access_token"])
    headers = {"kid": key.kid}
    genuine = jwt.encode(claims, key.private_pem, algorithm="RS256", headers=headers)
    assert api_get(server, CA_LIST, genuine).status_code == 200  # the forgery works...

    claims["iss"] = issuer.format(url=server.url)
    forged = jwt.encode(claims, key.private_pem, algorithm="RS256", headers=headers)
    _assert_refused(api_get(server, CA_LIST, forged))  # ...except for the issuer


def test_token_of_another_server_is_refused(server: Server, short_server: InProcessServer) -> None:
    token = sign_in(short_server, DEMO_EMAIL)["access_token"]
    _assert_refused(api_get(server, CA_LIST, token))


def test_token_signed_by_a_foreign_key_is_refused(server: Server) -> None:
    claims = _claims(sign_in(server, DEMO_EMAIL)["access_token"])
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for kid in (_signing_key(server).kid, "unknown-kid"):
        forged = jwt.encode(claims, foreign, algorithm="RS256", headers={"kid": kid})
        _assert_refused(api_get(server, CA_LIST, forged))


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def test_algorithm_confusion_is_refused(server: Server) -> None:
    """HS256 with the public key as the shared secret, and unsigned tokens (alg none)."""
    key = _signing_key(server)
    claims = _claims(sign_in(server, DEMO_EMAIL)["access_token"])
    public_pem = jwt.PyJWK(key.public_jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    signed = header + b"." + _b64url(json.dumps(claims).encode())
    signature = _b64url(hmac.new(public_pem, signed, hashlib.sha256).digest())
    _assert_refused(api_get(server, CA_LIST, (signed + b"." + signature).decode()))
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": key.kid})
    _assert_refused(api_get(server, CA_LIST, unsigned))


def test_expired_token_is_refused(server: Server) -> None:
    key = _signing_key(server)
    claims = _claims(sign_in(server, DEMO_EMAIL)["access_token"])
    claims["iat"], claims["exp"] = claims["iat"] - 600, claims["iat"] - 300
    expired = jwt.encode(claims, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
    answer = api_get(server, CA_LIST, expired)
    _assert_refused(answer)
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert "Token is not active" in answer.headers["www-authenticate"]


def test_missing_or_malformed_token(server: Server) -> None:
    _assert_refused(httpx.get(f"{server.url}{CA_LIST}"))
    for token in ("abc", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA", "Bearer"):
        _assert_refused(api_get(server, CA_LIST, token))


# --- secrets at rest -----------------------------------------------------------------------


def test_no_password_or_client_secret_in_clear(server: Server) -> None:
    engine = database_engine(server)
    try:
        with Session(engine) as session:
            hashes = list(session.scalars(select(User.password_hash).where(User.email.in_(USERS))))
            client = session.scalars(
                select(OAuthClient).where(OAuthClient.client_id == DEMO_CLIENT_ID)
            ).one()
            swagger = session.scalars(
                select(OAuthClient).where(OAuthClient.client_id == "sodata-swagger")
            ).one()
            client_hash, swagger_hash = client.secret_hash, swagger.secret_hash
    finally:
        engine.dispose()
    assert len(hashes) == len(USERS)
    assert all(h and h.startswith("$argon2id$") and DEMO_PASSWORD not in h for h in hashes)
    assert client_hash and client_hash.startswith("$argon2id$")
    assert DEMO_CLIENT_SECRET not in client_hash
    assert swagger_hash is None  # a public client: PKCE, no secret
    if server.backend == "sqlite":
        db = server.log_path.parent / "sodata-test.db"
        stored = b"".join(p.read_bytes() for p in db.parent.glob("sodata-test.db*"))
        assert db.exists()
        assert DEMO_PASSWORD.encode() not in stored
        assert DEMO_CLIENT_SECRET.encode() not in stored
