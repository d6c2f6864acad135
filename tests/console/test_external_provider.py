"""The console of a server that trusts an external Keycloak realm (SODATA_OIDC_ISSUER): it signs
in there, across origins, as it would at a real Keycloak whose client lists the console's
redirect URIs. The "external Keycloak" is a second demo server (as in
tests/access/test_external_idp.py), its sodata-console client accepting any loopback port; its
discovery, token and refresh answers reach the console through CORS. SQLite only, once."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from sodata.demo.ids import DEMO_EMAIL, SOLINK
from tests.conftest import Server
from tests.console.conftest import (
    assert_no_page_errors,
    edit_tokens,
    expect,
    sign_in,
    stored_tokens,
)

REALM = "/realms/sodata"


def _stop(srv: Server, name: str) -> None:
    srv.stop()
    errors = srv.unexpected_errors()
    if errors is not None:
        pytest.fail(f"the {name} server logged an unexpected error:\n{errors}")


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The external Keycloak: a plain demo server."""
    srv = Server("sqlite", tmp_path_factory.mktemp("console-idp"))
    yield srv
    _stop(srv, "identity provider")


@pytest.fixture(scope="module")
def trusting(idp: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server (its own database) that trusts the realm of `idp` and serves the console."""
    srv = Server(
        "sqlite",
        tmp_path_factory.mktemp("console-trusting"),
        env={"SODATA_OIDC_ISSUER": f"{idp.url}{REALM}"},
    )
    yield srv
    _stop(srv, "trusting")


@pytest.fixture(scope="module")
def server(trusting: Server) -> Server:
    """The `page` fixture opens this server: here, the trusting one."""
    return trusting


def on(server: Server, url: str) -> bool:
    return urlsplit(url).port == server.port


def test_console_signs_in_and_out_at_the_external_provider(
    page, idp: Server, trusting: Server
) -> None:
    page.goto("/console/")
    page.wait_for_url(f"{idp.url}{REALM}/protocol/openid-connect/auth?*")
    assert on(idp, page.url)
    sign_in(page, DEMO_EMAIL)
    # back on the trusting server: demo@example.com has one account, the console opens it
    page.wait_for_url(f"{trusting.url}/console/ca/{SOLINK}")
    expect(page.locator("table.devices tbody tr")).to_have_count(25)
    token_calls = [
        n for n in page.sodata_network if "openid-connect/token" in n and on(idp, n.split()[2])
    ]
    assert token_calls == [f"200 POST {idp.url}{REALM}/protocol/openid-connect/token"]

    # an access token past its time is refreshed at the provider before it is sent
    edit_tokens(page, "t.expiresAt = Date.now() - 1000")
    page.get_by_role("link", name="Customers").click()
    expect(page.locator("table.customers")).to_be_visible()
    tokens = stored_tokens(page)
    assert tokens["expiresAt"] > page.evaluate("Date.now()")
    assert on(trusting, page.url)

    page.get_by_role("button", name="Sign out").click()
    # the session ends at the provider, which sends the browser back to the console, which
    # has nobody signed in: the provider's sign-in page again
    expect(page.locator("form input[name=username]")).to_be_visible()
    assert on(idp, page.url)
    answer = httpx.post(
        f"{idp.url}{REALM}/protocol/openid-connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh"],
            "client_id": "sodata-console",
        },
    )
    assert answer.status_code == 400, answer.text  # the session is over
    assert any(
        n.startswith("302 GET") and "/protocol/openid-connect/logout?" in n
        for n in page.sodata_network
    )
    hosts = {urlsplit(u).port for u in page.sodata_requests if u.startswith("http")}
    assert hosts == {idp.port, trusting.port}
    assert_no_page_errors(page)
