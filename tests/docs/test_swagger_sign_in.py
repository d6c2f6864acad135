"""Swagger UI's Authorize button: the OpenAPI document names the realm's authorization code
flow, the initializer names the public client, and the flow works end to end as Swagger UI
runs it (PKCE, the sign-in page, oauth2-redirect.html, the token exchange)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from sodata.app import create_app
from sodata.config import Settings, sqlite_url
from sodata.demo.credentials import DEMO_PASSWORD
from sodata.demo.ids import DEMO_EMAIL

OIDC = "/realms/sodata/protocol/openid-connect"
REDIRECT = "/docs/swagger-ui/oauth2-redirect.html"
EITHER = [{"oauth2": []}, {"HTTPBearer": []}]


@pytest.fixture(scope="module")
def openapi(anonymous: httpx.Client) -> dict:
    r = anonymous.get("/swagger-api-json/v1")
    assert r.status_code == 200
    return r.json()


def test_the_document_names_the_realm_flow_and_the_bearer_scheme(openapi: dict) -> None:
    schemes = openapi["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["type"] == "http" and schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["oauth2"]["type"] == "oauth2"
    flow = schemes["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == OIDC + "/auth"
    assert flow["tokenUrl"] == flow["refreshUrl"] == OIDC + "/token"
    assert set(flow["scopes"]) == {"openid", "email", "profile"}


def test_the_authorize_dialog_offers_the_sign_in_first(
    openapi: dict, anonymous: httpx.Client
) -> None:
    # Swagger UI lists the schemes in the document's order: the code flow, then the token box
    assert list(openapi["components"]["securitySchemes"]) == ["oauth2", "HTTPBearer"]
    initializer = anonymous.get("/docs/swagger-ui/swagger-initializer.js").text
    assert 'clientId: "sodata-swagger"' in initializer
    assert "usePkceWithAuthorizationCodeGrant: true" in initializer


def test_every_api_operation_takes_either_scheme_and_documents_401_and_403(openapi: dict) -> None:
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    operations = [
        (f"{method.upper()} {path}", op)
        for path, ops in openapi["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in ops.items()
    ]
    assert len(operations) > 60
    for where, op in operations:
        assert op["security"] == EITHER, where
        for status in ("401", "403"):
            content = op["responses"][status]["content"]["application/json"]
            assert content["schema"] == error_body, (where, status)
    sign_in = [
        op
        for path, ops in openapi["paths"].items()
        if not path.startswith("/api/")
        for op in ops.values()
    ]
    assert all("security" not in op for op in sign_in)


def test_an_operation_answers_what_the_document_says_without_a_token(
    anonymous: httpx.Client, openapi: dict
) -> None:
    assert "get" in openapi["paths"]["/api/v1/ca"]
    r = anonymous.get("/api/v1/ca")
    assert r.status_code == 401
    assert set(r.json()) == {"statusCode", "message", "error"}


def test_the_initializer_signs_in_with_the_public_client_and_pkce(anonymous: httpx.Client) -> None:
    init = anonymous.get("/docs/swagger-ui/swagger-initializer.js").text
    call = re.search(r"ui\.initOAuth\(\{(.*?)\}\)", init, re.S)
    assert call, "swagger-initializer.js must call ui.initOAuth"
    options = dict(re.findall(r'(\w+):\s*("[^"]*"|true|false)', call.group(1)))
    assert options == {
        "clientId": '"sodata-swagger"',
        "usePkceWithAuthorizationCodeGrant": "true",
        "scopes": '"openid"',
    }
    assert f'"{REDIRECT}"' in init


class _Form(HTMLParser):
    """The sign-in page's form: where it posts and its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        elif tag == "input" and a.get("name"):
            self.fields[a["name"] or ""] = a.get("value") or ""


@pytest.mark.parametrize("client_auth", ["basic", "form"])
def test_authorize_flow_as_swagger_ui_runs_it(server, openapi: dict, client_auth: str) -> None:
    """Swagger UI authenticates the public client with HTTP Basic and an empty secret
    (useBasicAuthenticationWithAccessCodeGrant) or, by default, with client_id in the form."""
    flow = openapi["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    redirect_uri = server.url + REDIRECT
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    state = secrets.token_urlsafe(12)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        # 1. Authorize: Swagger UI opens the authorizationUrl, resolved against the document
        page = browser.get(
            flow["authorizationUrl"],
            params={
                "response_type": "code",
                "client_id": "sodata-swagger",
                "redirect_uri": redirect_uri,
                "scope": "openid",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        form = _Form()
        form.feed(page.text)
        assert form.action and {"username", "password"} <= set(form.fields)
        # 2. The user signs in on the embedded page
        fields = {**form.fields, "username": DEMO_EMAIL, "password": DEMO_PASSWORD}
        signed_in = browser.post(urljoin(str(page.url), form.action), data=fields)
        assert signed_in.status_code == 302, signed_in.text
        back = signed_in.headers["location"]
        assert back.startswith(redirect_uri + "?")
        query = parse_qs(urlsplit(back).query)
        assert query["state"] == [state]
        # 3. The browser lands on Swagger UI's redirect page, which hands the code back
        landing = browser.get(back)
        assert landing.status_code == 200 and "oauth2-redirect" in landing.text
        # 4. Swagger UI exchanges the code: the public client without a secret, and PKCE
        basic = base64.b64encode(b"sodata-swagger:").decode()
        client = (
            ({"Authorization": f"Basic {basic}"}, {})
            if client_auth == "basic"
            else ({}, {"client_id": "sodata-swagger"})
        )
        exchange = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            **client[1],
        }
        tokens = browser.post(flow["tokenUrl"], data=exchange, headers=client[0])
        assert tokens.status_code == 200, tokens.text
        body = tokens.json()
        assert body["token_type"] == "Bearer" and "id_token" in body
        # 5. "Try it out" sends the token
        bearer = {"Authorization": f"Bearer {body['access_token']}"}
        listed = browser.get("/api/v1/ca", headers=bearer)
        assert listed.status_code == 200
        names = {ca["name"] for ca in listed.json()["results"]}
        assert "SoLink" in names and "Energy Storage" not in names  # demo@ is admin of SoLink only
        # the code is used up
        again = browser.post(flow["tokenUrl"], data=exchange, headers=client[0])
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
        # 6. Swagger UI refreshes at refreshUrl
        refreshed = browser.post(
            flow["refreshUrl"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": body["refresh_token"],
                **client[1],
            },
            headers=client[0],
        )
        assert refreshed.status_code == 200, refreshed.text
        fresh = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert browser.get("/api/v1/ca", headers=fresh).status_code == 200


def test_a_code_without_the_right_verifier_gets_no_token(server) -> None:
    redirect_uri = server.url + REDIRECT
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(b"the real verifier").digest())
        .rstrip(b"=")
        .decode()
    )
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        signed_in = browser.post(
            OIDC + "/auth",
            data={
                "response_type": "code",
                "client_id": "sodata-swagger",
                "redirect_uri": redirect_uri,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "username": DEMO_EMAIL,
                "password": DEMO_PASSWORD,
            },
        )
        assert signed_in.status_code == 302, signed_in.text
        code = parse_qs(urlsplit(signed_in.headers["location"]).query)["code"][0]
        r = browser.post(
            OIDC + "/token",
            data={
                "grant_type": "authorization_code",
                "client_id": "sodata-swagger",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": "another verifier",
            },
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "settings,realm_url",
    [
        ({"realm": "acme"}, "/realms/acme"),
        ({"public_url": "https://iot.example.com/"}, "https://iot.example.com/realms/sodata"),
        (
            {"oidc_issuer": "https://sso.example.com/realms/corp"},
            "https://sso.example.com/realms/corp",
        ),
    ],
)
def test_the_flow_names_the_realm_of_the_settings(tmp_path, settings: dict, realm_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url(tmp_path / "unused.db"), **settings))
    flow = app.openapi()["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    oidc = realm_url + "/protocol/openid-connect"
    assert (flow["authorizationUrl"], flow["tokenUrl"]) == (oidc + "/auth", oidc + "/token")
