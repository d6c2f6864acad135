"""The token endpoint as the spec's clients call it (curl of section 6, Postman, plain forms),
with Keycloak's answers: the token response, the access token's claims, and the errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from urllib.parse import urlencode

import httpx
import jwt
import pytest

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import DEMO_EMAIL, VIEWER_EMAIL
from tests.conftest import Server
from tests.identity.conftest import (
    BAD_CLIENT,
    BAD_CREDENTIALS,
    OIDC,
    REALM,
    api_get,
    basic,
    password_form,
    refresh,
    sign_in,
    token_request,
)
from tests.inprocess import InProcessServer

TOKEN_KEYS = {
    "access_token",
    "expires_in",
    "refresh_expires_in",
    "refresh_token",
    "token_type",
    "not-before-policy",
    "session_state",
    "scope",
}


def test_token_response_as_in_the_spec(server: Server) -> None:
    answer = token_request(server, password_form(DEMO_EMAIL))
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert set(body) == TOKEN_KEYS  # no id_token without scope openid
    assert body["expires_in"] == 300
    assert body["refresh_expires_in"] == 1800
    assert body["token_type"] == "Bearer"
    assert body["not-before-policy"] == 0
    assert body["scope"] == "email profile"
    uuid.UUID(body["session_state"])


def test_id_token_only_with_scope_openid(server: Server) -> None:
    body = sign_in(server, DEMO_EMAIL, scope="openid")
    assert set(body) == TOKEN_KEYS | {"id_token"}
    assert body["scope"] == "openid email profile"
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["aud"] == DEMO_CLIENT_ID
    assert id_claims["sid"] == body["session_state"]


def test_access_token_claims_and_signature(server: Server) -> None:
    body = sign_in(server, DEMO_EMAIL)
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    certs = httpx.get(f"{server.url}{OIDC}/certs").json()["keys"]
    jwk = next(key for key in certs if key["kid"] == header["kid"])
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        audience="account",
        issuer=f"{server.url}/realms/{REALM}",
    )
    assert {
        "iss",
        "sub",
        "aud",
        "azp",
        "exp",
        "iat",
        "jti",
        "typ",
        "preferred_username",
        "email",
        "realm_access",
    } <= set(claims)
    assert claims["exp"] - claims["iat"] == 300
    assert claims["typ"] == "Bearer"
    assert claims["azp"] == DEMO_CLIENT_ID
    assert claims["preferred_username"] == claims["email"] == DEMO_EMAIL
    assert claims["sid"] == body["session_state"]
    assert f"default-roles-{REALM}" in claims["realm_access"]["roles"]
    uuid.UUID(claims["sub"])


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_as_in_spec_section_6(server: Server) -> None:
    """Section 6.2 then 6.4, at the legacy /auth prefix the spec uses."""
    url = f"{server.url}/auth/realms/{REALM}/protocol/openid-connect/token"

    def curl(*fields: str) -> dict:
        args = ["curl", "--silent", "--location", "--request", "POST", url]
        args += ["--header", "Content-Type: application/x-www-form-urlencoded"]
        for field in fields:
            args += ["--data-urlencode", field]
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True)
        return json.loads(done.stdout)

    client = (f"client_id={DEMO_CLIENT_ID}", f"client_secret={DEMO_CLIENT_SECRET}")
    token = curl(
        "grant_type=password", *client, f"username={DEMO_EMAIL}", f"password={DEMO_PASSWORD}"
    )
    assert set(token) == TOKEN_KEYS
    assert api_get(server, "/api/v1/ca", token["access_token"]).status_code == 200

    renewed = curl("grant_type=refresh_token", *client, f"refresh_token={token['refresh_token']}")
    assert set(renewed) == TOKEN_KEYS
    assert renewed["session_state"] == token["session_state"]
    assert api_get(server, "/api/v1/ca", renewed["access_token"]).status_code == 200


def test_postman_password_credentials(server: Server) -> None:
    """Postman's "Password Credentials" with "Send client credentials in body"."""
    answer = httpx.post(
        f"{server.url}{OIDC}/token",
        content=urlencode(password_form(DEMO_EMAIL, scope="openid")),
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "Accept": "*/*",
            "User-Agent": "PostmanRuntime/7.39.0",
        },
    )
    assert answer.status_code == 200, answer.text
    assert "id_token" in answer.json()


def test_client_authentication_by_http_basic(server: Server) -> None:
    form = password_form(DEMO_EMAIL)
    del form["client_id"], form["client_secret"]
    answer = token_request(server, form, headers=basic(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["access_token"], options={"verify_signature": False})
    assert claims["azp"] == DEMO_CLIENT_ID


@pytest.mark.parametrize(
    "username, password",
    [(VIEWER_EMAIL, "wrong-password"), ("nobody@example.com", DEMO_PASSWORD), ("", "")],
    ids=["wrong password", "unknown user", "no username"],
)
def test_bad_user_credentials(server: Server, username: str, password: str) -> None:
    answer = token_request(server, password_form(username, password))
    assert answer.status_code == 401
    assert answer.json() == BAD_CREDENTIALS
    # the failure was counted, never held against a later good sign-in (under the limit)
    if username == VIEWER_EMAIL:
        sign_in(server, VIEWER_EMAIL)


@pytest.mark.parametrize(
    "client_id, secret",
    [(DEMO_CLIENT_ID, "wrong-secret"), ("no-such-client", DEMO_CLIENT_SECRET), ("", "")],
    ids=["wrong secret", "unknown client", "no client"],
)
def test_bad_client_in_the_form(server: Server, client_id: str, secret: str) -> None:
    form = password_form(DEMO_EMAIL, client_id=client_id, client_secret=secret)
    answer = token_request(server, form)
    assert answer.status_code == 401
    assert answer.json() == BAD_CLIENT


@pytest.mark.parametrize(
    "authorization",
    [
        basic(DEMO_CLIENT_ID, "wrong-secret")["Authorization"],
        basic("no-such-client", DEMO_CLIENT_SECRET)["Authorization"],
        "Basic not*base64",
        "Basic " + "\u00e9t\u00e9",
    ],
    ids=["wrong secret", "unknown client", "malformed", "not ascii"],
)
def test_bad_client_in_http_basic(server: Server, authorization: str) -> None:
    form = password_form(DEMO_EMAIL)
    del form["client_id"], form["client_secret"]
    answer = token_request(server, form, headers={"Authorization": authorization.encode()})
    assert answer.status_code == 401
    assert answer.json() == BAD_CLIENT


def test_unsupported_grant_type(server: Server) -> None:
    answer = token_request(server, password_form(DEMO_EMAIL, grant_type="urn:example:magic"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "unsupported_grant_type"


def test_missing_grant_type(server: Server) -> None:
    form = password_form(DEMO_EMAIL)
    del form["grant_type"]
    answer = token_request(server, form)
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_request",
        "error_description": "Missing form parameter: grant_type",
    }


def test_public_client_may_not_use_the_password_grant(server: Server) -> None:
    form = password_form(DEMO_EMAIL)
    del form["client_id"], form["client_secret"]
    answer = token_request(server, form, headers=basic("sodata-swagger"))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "unauthorized_client",
        "error_description": "Client not allowed for direct access grants",
    }


def test_unknown_realm(server: Server) -> None:
    """The spec's own example URL names the realm "master": here the realm is "sodata"."""
    answer = httpx.post(
        f"{server.url}/auth/realms/master/protocol/openid-connect/token",
        data=password_form(DEMO_EMAIL),
    )
    assert answer.status_code == 404
    assert answer.json()["error"] == "Realm does not exist"
    assert httpx.get(f"{server.url}/realms/master").status_code == 404
    assert httpx.get(f"{server.url}/realms/master/protocol/openid-connect/certs").status_code == 404


def test_refresh_after_logout_is_session_not_active(server: Server) -> None:
    token = sign_in(server, DEMO_EMAIL)
    logout = httpx.post(
        f"{server.url}{OIDC}/logout",
        data={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": token["refresh_token"],
        },
    )
    assert logout.status_code == 204
    answer = refresh(server, token["refresh_token"])
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "Session not active"}


def test_expired_tokens(short_server: InProcessServer) -> None:
    """Access tokens of 5 s, refresh tokens of 15 s."""
    token = sign_in(short_server, DEMO_EMAIL)
    assert (token["expires_in"], token["refresh_expires_in"]) == (5, 15)
    assert api_get(short_server, "/api/v1/ca", token["access_token"]).status_code == 200

    short_server.advance(6)
    expired = api_get(short_server, "/api/v1/ca", token["access_token"])
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    renewed = refresh(short_server, token["refresh_token"])  # still alive: it has 15 s
    assert renewed.status_code == 200, renewed.text
    renewed_token = renewed.json()
    assert renewed_token["refresh_expires_in"] == 15

    short_server.advance(16)
    answer = refresh(short_server, renewed_token["refresh_token"])
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "Token is not active"}
