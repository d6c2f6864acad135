"""Rate limits of the requests that check credentials (identity/endpoints.py): by source
address (all requests, and failures more tightly) and by client_id, answered 429 with
Retry-After in Keycloak's error shape; off with SODATA_RATE_LIMITS=false; generous in demo
mode, yet a flood of 2,000 failures meets them.

Loopback has more addresses than 127.0.0.1: each test sends from one of its own (127.0.0.x),
so that what it triggers concerns no other test, nor the shared demo server's other clients.
The server with small limits runs in the test process (tests/inprocess.py): where a test would
wait for a window to end, it moves the clock forward."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from sodata.demo.credentials import DEMO_CLIENT_ID
from sodata.demo.ids import DEMO_EMAIL, VIEWER_EMAIL
from tests.conftest import BACKENDS, Server
from tests.identity.conftest import OIDC, AnyServer, password_form
from tests.inprocess import InProcessServer, serve_in_process

pytestmark = pytest.mark.scenario
WINDOW = 20
FAILURES = 10
PER_ADDRESS = 40
PER_CLIENT = 50
LIMITS = {
    "SODATA_RATE_LIMIT_WINDOW": str(WINDOW),
    "SODATA_TOKEN_FAILURES_PER_ADDRESS": str(FAILURES),
    "SODATA_TOKEN_REQUESTS_PER_ADDRESS": str(PER_ADDRESS),
    "SODATA_TOKEN_REQUESTS_PER_CLIENT": str(PER_CLIENT),
}
CONCURRENCY = 4  # requests in flight at once in a flood: as many as the server's write turns
WRONG = f"not-the-secret-{uuid.uuid4().hex}"  # never in the server's log


def _serve(backend: str, tmp: pytest.TempPathFactory, name: str, env: dict) -> Iterator[Server]:
    srv = Server(backend, tmp.mktemp(f"{name}-{backend}"), env=env)
    try:
        yield srv
    finally:
        srv.stop()
    assert srv.unexpected_errors() is None, srv.unexpected_errors()


@pytest.fixture(scope="module", params=BACKENDS)
def _limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    with serve_in_process(
        request.param, tmp_path_factory.mktemp(f"limited-{request.param}"), LIMITS
    ) as srv:
        yield srv


@pytest.fixture
def limited(_limited: InProcessServer) -> Iterator[InProcessServer]:
    """A demo server with small limits in windows of 20 s, in the test process, whose clock
    travels during the test: it moves forward where the test would wait for a window."""
    with _limited.travelling():
        yield _limited


@pytest.fixture(scope="module", params=BACKENDS)
def unlimited(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """The same limits, switched off."""
    env = {**LIMITS, "SODATA_RATE_LIMITS": "false", "SODATA_API_REQUESTS_PER_CLIENT": "1"}
    yield from _serve(request.param, tmp_path_factory, "unlimited", env)


def fresh_window(server: InProcessServer, window: int, needed: float) -> None:
    """Moves the clock, if need be, to a window with at least `needed` seconds left (windows
    are aligned on the epoch), so that a test's requests all fall into one."""
    left = window - time.time() % window
    if left < needed:
        server.advance(left + 0.05)


def _from(address: str, server: AnyServer) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, base_url=server.url, timeout=30)


def _flood(server: AnyServer, address: str, forms: list[dict[str, str]]) -> list[httpx.Response]:
    """The token requests `forms` from `address`, in order, CONCURRENCY at a time."""
    answers: list[httpx.Response] = []

    async def run() -> None:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        async with httpx.AsyncClient(
            transport=transport, base_url=server.url, timeout=60
        ) as client:
            turns = iter(range(len(forms)))

            async def sender() -> None:  # takes the next request once its answer came
                for i in turns:
                    answers[i] = await client.post(f"{OIDC}/token", data=forms[i])

            await asyncio.gather(*(sender() for _ in range(CONCURRENCY)))

    answers.extend([None] * len(forms))  # type: ignore[list-item]
    asyncio.run(run())
    return answers


def _bad(n: int, unknown_clients: int = 0) -> list[dict[str, str]]:
    """Wrong passwords (of an email that does not exist) and wrong client secrets in turn, each
    costing the server an argon2 check of the demo client's secret (up to a second on a busy
    machine) until its address is refused; each followed by `unknown_clients` requests naming
    a client that does not exist, refused at once."""
    nobody = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    wrong = [password_form(nobody, WRONG), {**password_form(DEMO_EMAIL), "client_secret": WRONG}]
    unknown = {"grant_type": "client_credentials", "client_id": "no-such-client"}
    cycle = [wrong[0]] + [unknown] * unknown_clients + [wrong[1]] + [unknown] * unknown_clients
    return [cycle[i % len(cycle)] for i in range(n)]


def _windows(began: float, ended: float, window: int) -> int:
    return int(ended // window) - int(began // window) + 1


def _assert_too_many(answer: httpx.Response, window: int, reason: str) -> int:
    assert answer.status_code == 429
    body = answer.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == "too_many_requests"
    assert body["error_description"].startswith(reason), body
    wait = int(answer.headers["Retry-After"])
    assert 1 <= wait <= window
    assert f"retry after {wait} s" in body["error_description"]
    return wait


def test_a_flood_of_failures_meets_429_until_the_window_ends(limited: InProcessServer) -> None:
    fresh_window(limited, WINDOW, 5)
    began = time.time()
    answers = _flood(limited, "127.0.0.2", _bad(2000))
    ended = time.time()
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {401, 429}, set(statuses)
    # FAILURES in each window the flood spanned, and those in flight when one reached it
    windows = _windows(began, ended, WINDOW)
    assert FAILURES <= statuses.count(401) <= windows * (FAILURES + CONCURRENCY), statuses
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) > 1000
    _assert_too_many(refused[-1], WINDOW, "Too many failed sign-ins from this address")
    with _from("127.0.0.3", limited) as elsewhere:  # another address: not concerned
        assert elsewhere.post(f"{OIDC}/token", data=password_form(VIEWER_EMAIL)).is_success
    with _from("127.0.0.2", limited) as client:
        for bad in _bad(FAILURES + 1):  # (the flood may have ended early in a new window)
            if client.post(f"{OIDC}/token", data=bad).status_code == 429:
                break
        refused_at = time.time()
        good = client.post(f"{OIDC}/token", data=password_form(VIEWER_EMAIL))
        if good.status_code == 200:  # a window ended in between (rare)
            assert _windows(refused_at, time.time(), WINDOW) > 1
        else:  # the right password too is refused until the window ends
            wait = _assert_too_many(good, WINDOW, "Too many failed sign-ins from this address")
            limited.advance(wait)
            good = client.post(f"{OIDC}/token", data=password_form(VIEWER_EMAIL))
            assert good.status_code == 200, good.text
    # the reaching of the limit is logged once per window, the secrets never
    log = limited.log_path.read_text()
    said = log.count("rate limit: 'token-failures:127.0.0.2'")
    assert 1 <= said <= _windows(began, time.time(), WINDOW)
    assert WRONG not in log


def test_requests_are_limited_per_address_and_per_client(limited: InProcessServer) -> None:
    """Requests that fail for another reason than credentials (a grant the client may not
    use) count against their address and their client, not as failures."""
    swagger = {"grant_type": "client_credentials", "client_id": "sodata-swagger"}
    console = {**swagger, "client_id": "sodata-console"}
    fresh_window(limited, WINDOW, 5)
    with _from("127.0.0.4", limited) as client:
        statuses = [client.post(f"{OIDC}/token", data=console).status_code for _ in range(45)]
        assert statuses == [400] * PER_ADDRESS + [429] * 5
        answer = client.post(f"{OIDC}/token", data=swagger)
        _assert_too_many(answer, WINDOW, "Too many sign-in requests from this address")
    fresh_window(limited, WINDOW, 6)
    answers = []
    for n in range(PER_CLIENT + 10):  # from several addresses, each under its own limit
        with _from(f"127.0.0.{5 + n % 3}", limited) as client:
            answers.append(client.post(f"{OIDC}/token", data=swagger))
    statuses = [a.status_code for a in answers]
    assert statuses == [400] * PER_CLIENT + [429] * 10, statuses
    _assert_too_many(answers[-1], WINDOW, "Too many sign-in requests for this client")
    with _from("127.0.0.5", limited) as client:  # another client, from the same address
        assert client.post(f"{OIDC}/token", data=console).status_code == 400
        assert client.post(f"{OIDC}/token", data=password_form(DEMO_EMAIL)).status_code == 200


def test_the_sign_in_page_counts_its_failures_too(limited: InProcessServer) -> None:
    fresh_window(limited, WINDOW, 5)
    form = {
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": "http://127.0.0.1/callback",
        "response_type": "code",
        "username": f"nobody-{uuid.uuid4().hex[:8]}@example.com",
        "password": WRONG,
    }
    with _from("127.0.0.8", limited) as client:
        pages = [client.post(f"{OIDC}/auth", data=form) for _ in range(FAILURES + 1)]
        assert [p.status_code for p in pages] == [200] * FAILURES + [429]
        assert "Too many failed sign-ins" in pages[-1].text
        assert 1 <= int(pages[-1].headers["Retry-After"]) <= WINDOW
        answer = client.post(f"{OIDC}/token", data=password_form(DEMO_EMAIL))
        _assert_too_many(answer, WINDOW, "Too many failed sign-ins")


def test_the_off_switch(unlimited: Server) -> None:
    answers = _flood(unlimited, "127.0.0.2", _bad(100, unknown_clients=4))
    assert {a.status_code for a in answers} == {401}
    with _from("127.0.0.3", unlimited) as client:
        token = client.post(f"{OIDC}/token", data=password_form(DEMO_EMAIL)).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert {client.get("/api/v1/ca", headers=headers).status_code for _ in range(5)} == {200}
    assert "rate limit" not in unlimited.log_path.read_text()


def test_the_demo_is_generous_yet_a_flood_meets_its_limits(server: Server) -> None:
    """The shared demo server (default limits of demo mode), from an address no other test
    uses: 500 failures a minute (config.DEMO_RATE_LIMITS), so 2,000 in a few seconds, in one
    window or two, meet a 429. Most of them name an unknown client, so that they do come in
    a few seconds even on a busy machine, where argon2 may take a second."""
    answers = _flood(server, "127.0.0.9", _bad(2000, unknown_clients=20))
    statuses = [a.status_code for a in answers]
    assert 429 in statuses
    first = statuses.index(429)
    assert first >= 500 - CONCURRENCY, first  # at most those in flight were answered late
    refused = [a for a in answers if a.status_code == 429]
    _assert_too_many(refused[-1], 60, "Too many failed sign-ins from this address")
    assert set(statuses[:first]) == {401}
    with _from("127.0.0.1", server) as client:  # the other tests' address: not concerned
        assert client.post(f"{OIDC}/token", data=password_form(DEMO_EMAIL)).is_success
