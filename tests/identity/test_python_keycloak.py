"""python-keycloak, the client of the spec's Python example, against the embedded provider:
every call it makes must get the answer a real Keycloak gives, at /realms and at the legacy
/auth/realms prefix."""

from __future__ import annotations

import base64
import json

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto.common import JWException
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import DEMO_EMAIL
from tests.conftest import Server
from tests.identity.conftest import REALM, api_get

PREFIXES = ["", "/auth"]


def keycloak(server: Server, prefix: str) -> KeycloakOpenID:
    return KeycloakOpenID(
        server_url=f"{server.url}{prefix}/",
        realm_name=REALM,
        client_id=DEMO_CLIENT_ID,
        client_secret_key=DEMO_CLIENT_SECRET,
    )


@pytest.mark.parametrize("prefix", PREFIXES)
def test_token_refresh_userinfo_logout(server: Server, prefix: str) -> None:
    oidc = keycloak(server, prefix)
    # python-keycloak sends empty code and redirect_uri fields and scope=openid
    token = oidc.token(DEMO_EMAIL, DEMO_PASSWORD)
    assert {"access_token", "refresh_token", "id_token", "session_state"} <= set(token)
    assert token["token_type"] == "Bearer"
    assert api_get(server, "/api/v1/ca", token["access_token"]).status_code == 200

    info = oidc.userinfo(token["access_token"])
    assert info["email"] == info["preferred_username"] == DEMO_EMAIL
    assert info["sub"] == oidc.decode_token(token["access_token"])["sub"]

    renewed = oidc.refresh_token(token["refresh_token"])
    assert renewed["access_token"] != token["access_token"]
    assert renewed["session_state"] == token["session_state"]
    assert api_get(server, "/api/v1/ca", renewed["access_token"]).status_code == 200

    assert oidc.logout(renewed["refresh_token"]) == {}  # 204 No Content
    with pytest.raises(KeycloakPostError) as refused:
        oidc.refresh_token(renewed["refresh_token"])
    assert refused.value.response_code == 400
    assert b"Session not active" in refused.value.response_body
    assert api_get(server, "/api/v1/ca", renewed["access_token"]).status_code == 401


@pytest.mark.parametrize("prefix", PREFIXES)
def test_well_known_certs_and_decode_token(server: Server, prefix: str) -> None:
    oidc = keycloak(server, prefix)
    issuer = f"{server.url}{prefix}/realms/{REALM}"
    config = oidc.well_known()
    assert config["issuer"] == issuer
    assert config["token_endpoint"] == f"{issuer}/protocol/openid-connect/token"
    assert config["jwks_uri"] == f"{issuer}/protocol/openid-connect/certs"
    assert "S256" in config["code_challenge_methods_supported"]
    assert httpx.get(config["jwks_uri"]).json() == oidc.certs()

    token = oidc.token(DEMO_EMAIL, DEMO_PASSWORD)
    kid = jwt.get_unverified_header(token["access_token"])["kid"]
    assert kid in {key["kid"] for key in oidc.certs()["keys"]}
    claims = oidc.decode_token(token["access_token"])  # signature checked with jwcrypto
    assert claims["iss"] == issuer
    assert claims["azp"] == DEMO_CLIENT_ID
    assert claims["preferred_username"] == DEMO_EMAIL
    id_claims = oidc.decode_token(token["id_token"])
    assert id_claims["aud"] == DEMO_CLIENT_ID
    assert id_claims["typ"] == "ID"

    with pytest.raises(JWException):  # no key of the JWKS verifies it
        oidc.decode_token(_with_claim(token["access_token"], "preferred_username", "admin"))


def _with_claim(token: str, name: str, value: str) -> str:
    """The token with one claim changed and the original signature (now wrong)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[name] = value
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_public_key_verifies_tokens(server: Server, prefix: str) -> None:
    oidc = keycloak(server, prefix)
    der = base64.b64decode(oidc.public_key())
    key = serialization.load_der_public_key(der)
    token = oidc.token(DEMO_EMAIL, DEMO_PASSWORD)["access_token"]
    claims = jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["preferred_username"] == DEMO_EMAIL


@pytest.mark.parametrize("prefix", PREFIXES)
def test_introspect(server: Server, prefix: str) -> None:
    oidc = keycloak(server, prefix)
    token = oidc.token(DEMO_EMAIL, DEMO_PASSWORD)
    answer = oidc.introspect(token["access_token"])
    assert answer["active"] is True
    assert answer["username"] == DEMO_EMAIL
    assert answer["client_id"] == DEMO_CLIENT_ID
    assert answer["token_type"] == "Bearer"
    assert oidc.introspect(token["refresh_token"])["token_type"] == "Refresh"
    assert oidc.introspect("not-a-token") == {"active": False}

    oidc.logout(token["refresh_token"])
    assert oidc.introspect(token["access_token"]) == {"active": False}


def test_scope_without_openid_gives_no_id_token(server: Server) -> None:
    token = keycloak(server, "").token(DEMO_EMAIL, DEMO_PASSWORD, scope="email profile")
    assert "id_token" not in token
    assert token["scope"] == "email profile"


def test_wrong_password_is_an_authentication_error(server: Server) -> None:
    with pytest.raises(KeycloakAuthenticationError) as refused:
        keycloak(server, "").token("nobody@example.com", "wrong")
    assert refused.value.response_code == 401
    assert b"Invalid user credentials" in refused.value.response_body


def test_wrong_client_secret_is_an_authentication_error(server: Server) -> None:
    oidc = KeycloakOpenID(
        server_url=f"{server.url}/",
        realm_name=REALM,
        client_id=DEMO_CLIENT_ID,
        client_secret_key="wrong-secret",
    )
    with pytest.raises(KeycloakAuthenticationError) as refused:
        oidc.token(DEMO_EMAIL, DEMO_PASSWORD)
    assert refused.value.response_code == 401
    assert b"invalid_client" in refused.value.response_body
