"""The authorization code grant with PKCE S256, as Swagger UI's Authorize button runs it with
the public client sodata-swagger: the sign-in page, the redirect with the code, the exchange
(HTTP Basic with an empty secret), and everything that must fail on the way."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import DEMO_EMAIL, VIEWER_EMAIL
from tests.conftest import Server
from tests.identity.conftest import OIDC, REALM, api_get, basic, pkce_pair, token_request

SWAGGER = "sodata-swagger"
SWAGGER_REDIRECT = "/docs/swagger-ui/oauth2-redirect.html"


class _Form(HTMLParser):
    """The sign-in page's form: its action and its fields."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.alert = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action")
        elif tag == "input" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")
        elif values.get("role") == "alert":
            self.alert = True


def authorize_params(server: Server, challenge: str | None, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": SWAGGER,
        "redirect_uri": server.url + SWAGGER_REDIRECT,
        "scope": "openid",
        "state": secrets.token_urlsafe(8),
        **extra,
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return params


def sign_in_page(server: Server, params: dict[str, str]) -> _Form:
    page = httpx.get(f"{server.url}{OIDC}/auth", params=params)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    form = _Form(page.text)
    assert form.action is not None
    return form


def submit(form: _Form, username: str, password: str) -> httpx.Response:
    fields = {**form.fields, "username": username, "password": password}
    return httpx.post(str(form.action), data=fields, follow_redirects=False)


def authorization_code(server: Server, challenge: str, username: str = DEMO_EMAIL) -> str:
    params = authorize_params(server, challenge)
    answer = submit(sign_in_page(server, params), username, DEMO_PASSWORD)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(params["redirect_uri"] + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [params["state"]]
    assert query["iss"] == [f"{server.url}/realms/{REALM}"]
    return query["code"][0]


def exchange(server: Server, code: str, verifier: str | None, **extra: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": server.url + SWAGGER_REDIRECT,
        **extra,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    return token_request(server, form, headers=basic(SWAGGER))


def test_swagger_ui_sign_in(server: Server) -> None:
    verifier, challenge = pkce_pair()
    answer = exchange(server, authorization_code(server, challenge), verifier)
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(token)
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["azp"] == SWAGGER
    assert claims["preferred_username"] == DEMO_EMAIL
    assert api_get(server, "/api/v1/ca", token["access_token"]).status_code == 200

    # Swagger UI refreshes with HTTP Basic and an empty secret too
    renewed = token_request(
        server,
        {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        headers=basic(SWAGGER),
    )
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["session_state"] == token["session_state"]


def test_sign_in_page_keeps_the_request(server: Server) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(server, challenge, nonce="n-0S6_WzA2Mj")
    form = sign_in_page(server, params)
    assert {k: form.fields[k] for k in params} == params
    assert {"username", "password"} <= set(form.fields)
    assert form.action == f"{server.url}{OIDC}/auth"


def test_confidential_client_with_a_loopback_redirect(server: Server) -> None:
    verifier, challenge = pkce_pair()
    redirect = "http://127.0.0.1:9999/callback"
    params = authorize_params(server, challenge, client_id=DEMO_CLIENT_ID, redirect_uri=redirect)
    answer = submit(sign_in_page(server, params), DEMO_EMAIL, DEMO_PASSWORD)
    assert answer.status_code == 302
    code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
    token = token_request(
        server,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect,
            "code_verifier": verifier,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
    )
    assert token.status_code == 200, token.text


def test_wrong_verifier(server: Server) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    answer = exchange(server, authorization_code(server, challenge), other_verifier)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_missing_verifier(server: Server) -> None:
    _, challenge = pkce_pair()
    answer = exchange(server, authorization_code(server, challenge), None)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_code_is_used_once(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code = authorization_code(server, challenge)
    assert exchange(server, code, verifier).status_code == 200
    again = exchange(server, code, verifier)
    assert again.status_code == 400
    assert again.json() == {"error": "invalid_grant", "error_description": "Code not valid"}


def test_parallel_exchanges_of_a_code(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code = authorization_code(server, challenge)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: exchange(server, code, verifier), range(6)))
    assert sorted(a.status_code for a in answers) == [200, 400, 400, 400, 400, 400]


def test_failed_exchange_burns_the_code(server: Server) -> None:
    """A wrong guess at the verifier must not leave the code for another guess."""
    verifier, challenge = pkce_pair()
    code = authorization_code(server, challenge)
    assert exchange(server, code, "x" * 43).status_code == 400
    again = exchange(server, code, verifier)
    assert again.status_code == 400
    assert again.json()["error_description"] == "Code not valid"


def test_code_of_another_client(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code = authorization_code(server, challenge)
    answer = token_request(
        server,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": server.url + SWAGGER_REDIRECT,
            "code_verifier": verifier,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_exchange_with_another_redirect_uri(server: Server) -> None:
    verifier, challenge = pkce_pair()
    code = authorization_code(server, challenge)
    answer = exchange(server, code, verifier, redirect_uri=server.url + "/docs/elsewhere")
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Incorrect redirect_uri",
    }


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/docs/swagger-ui/oauth2-redirect.html",
        "/docs/swagger-ui/oauth2-redirect.html.evil",
        "",
    ],
    ids=["other host", "longer path", "none"],
)
def test_unregistered_redirect_uri_is_an_error_page(server: Server, redirect_uri: str) -> None:
    _, challenge = pkce_pair()
    if redirect_uri.startswith("/"):
        redirect_uri = server.url + redirect_uri
    params = authorize_params(server, challenge, redirect_uri=redirect_uri)
    for answer in (
        httpx.get(f"{server.url}{OIDC}/auth", params=params),
        httpx.post(
            f"{server.url}{OIDC}/auth",
            data={**params, "username": DEMO_EMAIL, "password": DEMO_PASSWORD},
        ),
    ):
        assert answer.status_code == 400
        assert "location" not in answer.headers
        assert answer.headers["content-type"].startswith("text/html")
        assert "redirect_uri" in answer.text


def test_public_client_must_use_pkce(server: Server) -> None:
    params = authorize_params(server, None)
    answer = httpx.get(f"{server.url}{OIDC}/auth", params=params)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "code_challenge" in answer.text
    answer = httpx.post(
        f"{server.url}{OIDC}/auth",
        data={**params, "username": DEMO_EMAIL, "password": DEMO_PASSWORD},
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_plain_pkce_is_refused(server: Server) -> None:
    params = authorize_params(server, None, code_challenge="a" * 43, code_challenge_method="plain")
    answer = httpx.get(f"{server.url}{OIDC}/auth", params=params)
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_wrong_password_shows_the_form_again(server: Server) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(server, challenge)
    answer = submit(sign_in_page(server, params), VIEWER_EMAIL, "wrong-password")
    assert answer.status_code == 200
    assert "location" not in answer.headers
    again = _Form(answer.text)
    assert again.alert
    assert "Invalid username or password." in answer.text
    assert again.fields["username"] == VIEWER_EMAIL  # kept, the password is not
    assert again.fields["password"] == ""
    assert {k: again.fields[k] for k in params} == params
    # and the form shown again still works
    assert submit(again, VIEWER_EMAIL, DEMO_PASSWORD).status_code == 302


def test_unknown_client_is_an_error_page(server: Server) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(server, challenge, client_id="no-such-client")
    answer = httpx.get(f"{server.url}{OIDC}/auth", params=params)
    assert answer.status_code == 400
    assert "location" not in answer.headers


def test_sign_in_page_escapes_what_it_echoes(server: Server) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(server, challenge, state='"><script>alert(1)</script>')
    page = httpx.get(f"{server.url}{OIDC}/auth", params=params)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert _Form(page.text).fields["state"] == params["state"]
