"""CORS of the embedded provider, as Keycloak answers it: the discovery document and the keys to
any page; the token, userinfo, revoke and logout answers (errors too) only to the pages of the
client's "Web Origins", the origins of its redirect URIs (a console on another server that
trusts this realm); the API stays same-origin."""

from __future__ import annotations

import httpx
import pytest

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from sodata.demo.ids import DEMO_EMAIL
from tests.conftest import Server
from tests.identity.conftest import OIDC, REALM, password_form, pkce_pair, token_request
from tests.identity.test_authorization_code import authorization_code

ALLOW = "access-control-allow-origin"
EVIL = "https://evil.example"
CONSOLE = "sodata-console"  # redirect URIs /console/callback and /console/: this server
SWAGGER = "sodata-swagger"
PREFIXES = ["", "/auth"]


def allowed(answer: httpx.Response) -> str | None:
    return answer.headers.get(ALLOW)


def bad_code(server: Server, origin: str, prefix: str = "") -> httpx.Response:
    """The console's code exchange with a code that never was: a 400 the page must read."""
    return httpx.post(
        f"{server.url}{prefix}{OIDC}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": CONSOLE,
            "code": "never-issued",
            "redirect_uri": f"{origin}/console/callback",
            "code_verifier": pkce_pair()[0],
        },
        headers={"Origin": origin},
        timeout=30,
    )


@pytest.mark.parametrize("prefix", PREFIXES)
def test_public_documents_are_readable_by_any_page(server: Server, prefix: str) -> None:
    base = f"{server.url}{prefix}/realms/{REALM}"
    for url in (f"{base}/.well-known/openid-configuration", f"{server.url}{prefix}{OIDC}/certs"):
        answer = httpx.get(url, headers={"Origin": EVIL})
        assert answer.status_code == 200, url
        assert allowed(answer) == "*", url
        assert allowed(httpx.get(url)) == "*", url  # no Origin (a server): the same document


@pytest.mark.parametrize("prefix", PREFIXES)
def test_token_errors_are_readable_by_the_clients_own_pages(server: Server, prefix: str) -> None:
    # the console's relative redirect URIs are on this server; on loopback any port (the
    # console of a server trusting this realm, as with an external Keycloak)
    for origin in (server.url, "http://127.0.0.1:1"):
        answer = bad_code(server, origin, prefix)
        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_grant"
        assert allowed(answer) == origin
        assert answer.headers["vary"] == "Origin"
    for origin in (EVIL, "null", "http://localhost:1", "https://127.0.0.1:1", server.url + "/x"):
        answer = bad_code(server, origin, prefix)
        assert answer.status_code == 400
        assert allowed(answer) is None, origin


def test_token_answers_follow_the_clients_redirect_uris(server: Server) -> None:
    # sodata-demo: http://127.0.0.1/*, http://localhost/* and Postman's web callback
    for origin in ("http://127.0.0.1:5173", "http://localhost:3000", "https://oauth.pstmn.io"):
        answer = token_request(server, password_form(DEMO_EMAIL), headers={"Origin": origin})
        assert answer.status_code == 200, answer.text
        assert allowed(answer) == origin
    for origin in (EVIL, "https://oauth.pstmn.io:8443", "http://oauth.pstmn.io"):
        answer = token_request(server, password_form(DEMO_EMAIL), headers={"Origin": origin})
        assert answer.status_code == 200
        assert allowed(answer) is None, origin
    # without Origin (not a browser): no CORS at all
    assert "vary" not in token_request(server, password_form(DEMO_EMAIL)).headers
    # an unknown client has no origins; a wrong secret is still the named client's error
    unknown = token_request(
        server, password_form(DEMO_EMAIL, client_id="nobody"), headers={"Origin": server.url}
    )
    assert unknown.status_code == 401 and allowed(unknown) is None
    wrong = token_request(
        server,
        password_form(DEMO_EMAIL, client_secret="wrong"),
        headers={"Origin": "http://127.0.0.1:1"},
    )
    assert wrong.status_code == 401 and allowed(wrong) == "http://127.0.0.1:1"


def test_userinfo_revoke_and_logout(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code = authorization_code(server, challenge)
    own = {"Origin": server.url}
    exchanged = httpx.post(
        f"{server.url}{OIDC}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": SWAGGER,
            "code": code,
            "redirect_uri": f"{server.url}/docs/swagger-ui/oauth2-redirect.html",
            "code_verifier": verifier,
        },
        headers=own,
    )
    assert exchanged.status_code == 200, exchanged.text
    assert allowed(exchanged) == server.url
    tokens = exchanged.json()

    def userinfo(origin: str) -> httpx.Response:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}", "Origin": origin}
        return httpx.get(f"{server.url}{OIDC}/userinfo", headers=bearer)

    assert userinfo(server.url).status_code == 200
    assert allowed(userinfo(server.url)) == server.url  # the token's client (azp) decides
    assert allowed(userinfo(EVIL)) is None
    anonymous = httpx.get(f"{server.url}{OIDC}/userinfo", headers=own)
    assert anonymous.status_code == 401 and allowed(anonymous) is None  # no client named

    revoke = {"client_id": SWAGGER, "token": "not-a-token"}
    answer = httpx.post(f"{server.url}{OIDC}/revoke", data=revoke, headers=own)
    assert answer.status_code == 200 and allowed(answer) == server.url
    answer = httpx.post(f"{server.url}{OIDC}/revoke", data=revoke, headers={"Origin": EVIL})
    assert answer.status_code == 200 and allowed(answer) is None

    logout = {"client_id": SWAGGER, "refresh_token": tokens["refresh_token"]}
    answer = httpx.post(f"{server.url}{OIDC}/logout", data=logout, headers={"Origin": EVIL})
    assert answer.status_code == 204 and allowed(answer) is None
    answer = httpx.post(f"{server.url}{OIDC}/logout", data=logout, headers=own)
    assert answer.status_code == 400 and allowed(answer) == server.url  # already ended


@pytest.mark.parametrize("prefix", PREFIXES)
def test_preflight(server: Server, prefix: str) -> None:
    asking = {
        "Origin": EVIL,  # echoed: the request itself decides, as in Keycloak
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    for endpoint in ("token", "userinfo", "revoke", "logout"):
        url = f"{server.url}{prefix}{OIDC}/{endpoint}"
        answer = httpx.options(url, headers=asking)
        assert answer.status_code == 200, url
        assert allowed(answer) == EVIL
        assert answer.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        assert int(answer.headers["access-control-max-age"]) > 0
        plain = httpx.options(url)
        assert plain.status_code == 200 and allowed(plain) is None
    other_realm = f"{server.url}{prefix}/realms/master/protocol/openid-connect/token"
    assert httpx.options(other_realm, headers=asking).status_code == 404


def test_the_api_stays_same_origin(server: Server) -> None:
    token = token_request(server, password_form(DEMO_EMAIL)).json()["access_token"]
    headers = {"Origin": "http://127.0.0.1:1", "Authorization": f"Bearer {token}"}
    answer = httpx.get(f"{server.url}/api/v1/ca", headers=headers)
    assert answer.status_code == 200 and allowed(answer) is None
    preflight = httpx.options(
        f"{server.url}/api/v1/ca",
        headers={"Origin": "http://127.0.0.1:1", "Access-Control-Request-Method": "GET"},
    )
    assert allowed(preflight) is None


def test_confidential_client_errors(server: Server) -> None:
    """A confidential client named with HTTP Basic: its origins answer its errors."""
    answer = httpx.post(
        f"{server.url}{OIDC}/token",
        data={"grant_type": "refresh_token", "refresh_token": "nope"},
        auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET),
        headers={"Origin": "http://localhost:8080"},
    )
    assert answer.status_code == 400 and allowed(answer) == "http://localhost:8080"
