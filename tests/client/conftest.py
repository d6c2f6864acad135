"""Helpers of the SDK and CLI tests: clients of the test servers signed in as demo users, a
recorder of the HTTP requests a client sends, a demo server with 5-second access tokens whose
clock the tests move, and a flaky proxy (in front of a real server) that answers 503 or 429 a
few times."""

from __future__ import annotations

import http.server
import socket
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from sodata.client import Client
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import ADMIN_EMAIL, DEMO_EMAIL
from tests import factories
from tests.conftest import Server, Shared
from tests.inprocess import InProcessServer, shared_in_process

REALM = "sodata"
SHORT = {"SODATA_ACCESS_TOKEN_LIFETIME": "5", "SODATA_REFRESH_TOKEN_LIFETIME": "30"}


def demo_settings(server: Server | InProcessServer, username: str = DEMO_EMAIL) -> dict[str, str]:
    return {
        "base_url": server.url,
        "realm": REALM,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": username,
        "password": DEMO_PASSWORD,
    }


def demo_env(server: Server, username: str = DEMO_EMAIL) -> dict[str, str]:
    """The environment variables the SDK and the CLI read, for a demo user."""
    return {
        "SODATA_URL": server.url,
        "SODATA_REALM": REALM,
        "SODATA_CLIENT_ID": DEMO_CLIENT_ID,
        "SODATA_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "SODATA_USERNAME": username,
        "SODATA_PASSWORD": DEMO_PASSWORD,
    }


@dataclass
class Recorder:
    """What a client sent and was answered: (method, path, grant type or None, status)."""

    exchanges: list[tuple[str, str, str | None, int]] = field(default_factory=list)

    def response(self, response: httpx.Response) -> None:
        request = response.request
        grant = None
        if request.url.path.endswith("/openid-connect/token"):
            grant = urllib.parse.parse_qs(request.content.decode()).get("grant_type", [None])[0]
        self.exchanges.append((request.method, request.url.path, grant, response.status_code))

    def http(self) -> httpx.Client:
        return httpx.Client(timeout=30, event_hooks={"response": [self.response]})

    def grants(self) -> list[str]:
        return [g for _, _, g, _ in self.exchanges if g]

    def api(self) -> list[tuple[str, str, int]]:
        return [(m, p, s) for m, p, g, s in self.exchanges if p.startswith("/api/")]

    def clear(self) -> None:
        self.exchanges.clear()


def recorded_client(
    server: Server | InProcessServer, username: str = DEMO_EMAIL, **kwargs
) -> tuple[Client, Recorder]:
    recorder = Recorder()
    client = Client(**{**demo_settings(server, username), **kwargs}, http=recorder.http())
    return client, recorder


@pytest.fixture(scope="session")
def sdk(server: Server) -> Iterator[Client]:
    """A client of the demo server, signed in as demo@example.com (admin of SoLink)."""
    with Client(**demo_settings(server)) as client:
        yield client


@dataclass
class OwnAccount:
    """A corporate account of the tests' own (tests that write never touch the demo's), with
    a customer and a site in Europe/Paris; admin@example.com is admin of it."""

    uuid: str
    name: str
    site: str


@pytest.fixture(scope="session")
def own_account(api: httpx.Client) -> OwnAccount:
    ca = factories.corporate_account(api)
    customer = factories.customer(api, ca)
    site = factories.site(api, ca, customer, timeZone="Europe/Paris")
    return OwnAccount(ca["uuid"], ca["name"], site["uuid"])


@pytest.fixture(scope="session")
def admin_sdk(server: Server) -> Iterator[Client]:
    """A client signed in as admin@example.com (admin of every account, the tests' too)."""
    with Client(**demo_settings(server, ADMIN_EMAIL)) as client:
        yield client


@pytest.fixture
def throwaway_user(api: httpx.Client, own_account: OwnAccount) -> str:
    """A new user (password DEMO_PASSWORD) for failed sign-ins: failures of a shared demo
    user would add up with other tests' towards its lockout."""
    email = f"sdk-{uuid.uuid4().hex[:10]}@example.com"
    answer = api.post(
        f"/api/v1/ca/{own_account.uuid}/users",
        json={"email": email, "role": "viewer", "password": DEMO_PASSWORD},
    )
    assert answer.status_code == 201, answer.text
    return email


@pytest.fixture(scope="session")
def _short_server(
    server: Server, tmp_path_factory: pytest.TempPathFactory, shared: Shared
) -> InProcessServer:
    return shared_in_process(shared, tmp_path_factory, "sdk-short", server.backend, SHORT)


@pytest.fixture
def short_server(_short_server: InProcessServer) -> Iterator[InProcessServer]:
    """A demo server on the same backend as `server`, with access tokens of 5 s; in the test
    process, whose clock travels during the test: `short_server.advance(seconds)` instead of
    sleeping (the SDK's clock moves with the server's)."""
    with _short_server.travelling():
        yield _short_server


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FlakyProxy:
    """A reverse proxy to a real server that answers `status` (with Retry-After: 0) to the
    first `failures` requests whose path starts with `prefix`, then forwards everything.
    `seen` lists those requests: (method, path, status answered)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.failures = 0
        self.status = 503
        self.prefix = "/api/"
        self.seen: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path.startswith(proxy.prefix) and proxy.failures > 0:
                    proxy.failures -= 1
                    proxy.seen.append((self.command, self.path, proxy.status))
                    payload = b'{"statusCode": %d, "message": "try later", "error": "Busy"}' % (
                        proxy.status
                    )
                    self.send_response(proxy.status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                answer = httpx.request(
                    self.command,
                    proxy.target + self.path,
                    headers=headers,
                    content=body,
                    timeout=60,
                )
                if self.path.startswith(proxy.prefix):
                    proxy.seen.append((self.command, self.path, answer.status_code))
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def flaky(server: Server) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(server.url)
    yield proxy
    proxy.close()
