"""The browser harness itself, against pages the server serves today."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from sodata.demo.ids import ADMIN_EMAIL
from sodata.identity.bootstrap import SWAGGER_CLIENT_ID, SWAGGER_REDIRECT
from tests.conftest import Server
from tests.console.conftest import (
    assert_no_page_errors,
    assert_only_own_host,
    expect,
    save_artifacts,
    sign_in,
)


def test_swagger_ui_loads_from_the_server_only(page, server: Server) -> None:
    page.goto("/docs/swagger-ui/index.html")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    assert page.sodata_requests[0] == f"{server.url}/docs/swagger-ui/index.html"
    assert any(url.endswith("/swagger-api-json/v1") for url in page.sodata_requests)
    assert_no_page_errors(page)
    assert_only_own_host(page, server)


def test_records_console_messages_and_page_errors(page) -> None:
    page.goto("/docs/swagger-ui/index.html")
    page.evaluate("console.warn('harness says hi')")
    page.evaluate("setTimeout(() => { throw new Error('harness boom') })")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    page.wait_for_function("true")  # one more round trip: the timeout fired
    assert any(m.startswith("[warning] harness says hi") for m in page.sodata_console)
    assert any("harness boom" in e for e in page.sodata_errors), page.sodata_errors
    with pytest.raises(AssertionError, match="harness boom"):
        assert_no_page_errors(page)


def test_assert_only_own_host_lists_the_offenders(page, server: Server) -> None:
    page.goto("/docs/swagger-ui/index.html")
    page.sodata_requests.append("https://cdn.example.com/lib.js")
    page.sodata_requests.append("data:image/png;base64,AAAA")
    with pytest.raises(AssertionError, match=r"https://cdn\.example\.com/lib\.js") as failure:
        assert_only_own_host(page, server)
    assert "data:" not in str(failure.value)


def test_failure_artifacts_are_written(page, tmp_path: Path) -> None:
    page.goto("/docs/swagger-ui/index.html")
    expect(page.locator(".swagger-ui .info .title")).to_be_visible()
    page.evaluate("console.error('saved with the screenshot')")
    where = save_artifacts(page, tmp_path / "artifacts")
    png = (where / "screenshot.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "saved with the screenshot" in (where / "console.log").read_text()
    assert "/docs/swagger-ui/index.html" in (where / "requests.log").read_text()
    assert "swagger-ui" in (where / "page.html").read_text()


def _authorize_url(server: Server) -> str:
    """Swagger UI's authorization request (the console's sign-in does not exist yet)."""
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).rstrip(b"=")
    query = {
        "response_type": "code",
        "client_id": SWAGGER_CLIENT_ID,
        "redirect_uri": server.url + SWAGGER_REDIRECT,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        "state": "harness",
    }
    return f"/realms/sodata/protocol/openid-connect/auth?{urlencode(query)}"


def test_sign_in_fills_the_identity_providers_page(page, server: Server) -> None:
    page.goto(_authorize_url(server))
    sign_in(page, ADMIN_EMAIL)
    url = urlsplit(page.url)
    assert f"{url.scheme}://{url.netloc}{url.path}" == server.url + SWAGGER_REDIRECT
    assert parse_qs(url.query)["state"] == ["harness"] and parse_qs(url.query)["code"]


def test_sign_in_with_a_wrong_password_stays_on_the_sign_in_page(page, server: Server) -> None:
    page.goto(_authorize_url(server))
    sign_in(page, ADMIN_EMAIL, "not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
    expect(page.locator("input[name=username]")).to_have_value(ADMIN_EMAIL)
