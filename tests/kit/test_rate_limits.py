"""Rate limits (kit/ratelimit.py): counts shared through the database by every process, never
more admitted than the limit; and the API's limit per caller, answered 429 in the API's shape,
on a server of two processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import insert, select

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import DEMO_EMAIL, VIEWER_EMAIL
from sodata.kit.db import make_engine, make_sessionmaker
from sodata.kit.errors import Overloaded
from sodata.kit.ratelimit import LEASES_PER_WINDOW, Limit, Limiter
from sodata.kit.workers import dispatching
from sodata.models import RateLimitCount
from tests.conftest import BACKENDS, Server, fresh_database
from tests.kit.test_workers import _ready

pytestmark = pytest.mark.scenario

T = TypeVar("T")
TABLE = RateLimitCount.__table__
OIDC = "/realms/sodata/protocol/openid-connect"


def fresh_window(window: int, needed: float) -> None:
    """Waits, if need be, for a window with at least `needed` seconds left (windows are
    aligned on the epoch), so that a test's requests all fall into one."""
    left = window - time.time() % window
    if left < needed:
        time.sleep(left + 0.05)


def in_one_window(window: int, needed: float, send: Callable[[], T]) -> T:
    """What `send()` returns, from requests that all fell into one window: started with
    `needed` seconds of the window left, and sent again from the start of a new window if a
    loaded machine made them take longer (the counts of a window they spilled into are
    spent)."""
    fresh_window(window, needed)
    while True:
        started = time.time() // window
        answers = send()
        if time.time() // window == started:
            return answers
        fresh_window(window, window)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


class Processes:
    """Limiters of their own engine on one database, as server processes have."""

    def __init__(self, url: str, count: int, window: int = 3600) -> None:
        self.engines = [make_engine(url, connections=8, wait=10) for _ in range(count)]
        self.limiters = [Limiter(make_sessionmaker(e), TABLE, window) for e in self.engines]

    def close(self) -> None:
        for engine in self.engines:
            engine.dispose()


@pytest.fixture
def processes(database: str) -> Iterator[Any]:
    made: list[Processes] = []

    def make(count: int, window: int = 3600) -> Processes:
        made.append(Processes(database, count, window))
        return made[-1]

    yield make
    for p in made:
        p.close()


def test_processes_together_admit_the_limit_and_no_more(processes: Any) -> None:
    """Three processes, eight threads each, leasing chunks of 4 permits out of 200: the limit
    is never exceeded, and as every process keeps receiving requests none stays unspent."""
    group = processes(3)
    limit = Limit("api-user:1", 200)
    chunk = limit.per_window // LEASES_PER_WINDOW
    assert chunk == 4
    fresh_window(3600, 60)
    admitted: list[int] = []

    def caller(limiter: Limiter) -> None:
        for _ in range(40):  # 3 x 8 x 40 = 960 requests
            admitted.append(1 if limiter.admit(limit) == 0 else 0)

    threads = [threading.Thread(target=caller, args=(lim,)) for lim in group.limiters * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == limit.per_window
    refused = [lim.admit_now(limit) for lim in group.limiters]  # known in memory now
    assert all(r is not None and 1 <= r <= 3600 for r in refused)


def test_only_permits_leased_and_left_unspent_by_other_processes_are_lost(processes: Any) -> None:
    """Three processes take turns, then two stop receiving requests: each holds at most a
    chunk less one unspent, which the third cannot have."""
    group = processes(3)
    limit = Limit("api-user:2", 200)
    chunk = limit.per_window // LEASES_PER_WINDOW
    fresh_window(3600, 60)
    spent = [0, 0, 0]
    for turn in range(400):
        i = turn % 3 if turn < 150 else 0
        if group.limiters[i].admit(limit) == 0:
            spent[i] += 1
    assert limit.per_window - 2 * (chunk - 1) <= sum(spent) < limit.per_window, spent


def test_failures_count_when_their_transaction_commits(processes: Any, database: str) -> None:
    one, two = processes(2).limiters
    failures = Limit("token-failures:10.1.2.3", 3)
    engine = make_engine(database)
    try:
        fresh_window(3600, 30)
        for n in range(3):
            with engine.connect() as connection:
                one.record(connection, failures)
                assert two.exceeded(failures) == 0  # not committed yet
                connection.commit()
            assert (two.exceeded(failures) > 0) == (n == 2)
        assert 1 <= one.exceeded(failures) <= 3600  # known without a read
        assert two.exceeded(Limit("token-failures:10.1.2.4", 3)) == 0  # per key
    finally:
        engine.dispose()


def test_old_windows_are_deleted_and_long_keys_are_stored_hashed(
    processes: Any, database: str
) -> None:
    (limiter,) = processes(1, window=60).limiters
    fresh_window(60, 10)
    start = int(time.time() // 60) * 60
    engine = make_engine(database)
    try:
        with engine.begin() as connection:
            rows = [(start - 120, "old"), (start - 60, "previous"), (start - 600, "older")]
            for window_start, key in rows:
                connection.execute(
                    insert(TABLE).values(window_start=window_start, key=key, count=1)
                )
        long = "token-client:" + "x" * 1000
        assert limiter.admit(Limit(long, 2)) == 0
        assert limiter.admit(Limit(long + "y", 1)) == 0  # another key, though its start is alike
        with engine.connect() as connection:
            keys = dict(connection.execute(select(TABLE.c.key, TABLE.c.window_start)).all())
            assert max(len(k) for k in keys) == 255
        assert set(keys) - {"previous"} and "old" not in keys and "older" not in keys
        assert keys["previous"] == start - 60  # the previous window is kept
    finally:
        engine.dispose()


class _BusySession:
    def __enter__(self) -> _BusySession:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def connection(self) -> None:
        raise Overloaded("other writes held the database for over 5 s")


def test_a_busy_database_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    limiter = Limiter(_BusySession, TABLE, 60)  # type: ignore[arg-type]
    fresh_window(60, 5)
    with caplog.at_level("WARNING", logger="sodata.kit.ratelimit"):
        assert [limiter.admit(Limit("api-user:1", 1)) for _ in range(3)] == [0, 0, 0]
        assert limiter.exceeded(Limit("token-failures:x", 1)) == 0
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "not counted" in said[0], said  # once per window


# --- a server of two processes ---------------------------------------------------------------

API_LIMIT = 40  # a chunk of 1: every permit is leased alone, the count is exact
FAILURES = 10
WINDOW = 60
LIMITED = {
    "SODATA_API_REQUESTS_PER_CLIENT": str(API_LIMIT),
    "SODATA_TOKEN_FAILURES_PER_ADDRESS": str(FAILURES),
    "SODATA_RATE_LIMIT_WINDOW": str(WINDOW),
}


@pytest.fixture(scope="module", params=BACKENDS)
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    if not dispatching():
        pytest.skip("connections are handed to the processes only where sockets pass")
    srv = Server(
        request.param,
        tmp_path_factory.mktemp(f"limits-{request.param}"),
        env=LIMITED,
        args=["--workers", "2", "--log-level", "info"],
    )
    try:
        _ready(srv, 2)
        yield srv
    finally:
        srv.stop()
    assert srv.unexpected_errors() is None, srv.unexpected_errors()


def _token(server: Server, username: str) -> str:
    form = {
        "grant_type": "password",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": username,
        "password": DEMO_PASSWORD,
    }
    answer = httpx.post(f"{server.url}{OIDC}/token", data=form, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def _get(server: Server, token: str) -> httpx.Response:
    """A request on a connection of its own: the two processes take turns answering."""
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    return httpx.get(f"{server.url}/api/v1/ca", headers=headers, timeout=30)


def test_the_api_limit_per_caller_is_shared_by_the_processes(workers: Server) -> None:
    demo, viewer = _token(workers, DEMO_EMAIL), _token(workers, VIEWER_EMAIL)

    def send() -> tuple[int, list[httpx.Response]]:
        logged = workers.log_path.read_text().count("rate limit: 'api-user:")
        return logged, [_get(workers, demo) for _ in range(3 * API_LIMIT)]

    logged, answers = in_one_window(WINDOW, 15, send)
    statuses = [a.status_code for a in answers]
    # each process alone would admit API_LIMIT: both together admit it once, exactly (a chunk
    # of 1 leaves no permit unspent)
    assert statuses.count(200) == API_LIMIT, statuses
    assert set(statuses) == {200, 429}
    assert statuses.index(429) == API_LIMIT  # the first ones pass, then none
    refused = answers[-1]
    assert refused.json() == {
        "statusCode": 429,
        "message": refused.json()["message"],
        "error": "Too Many Requests",
    }
    assert "Too many requests by this caller" in refused.json()["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW
    assert _get(workers, viewer).status_code == 200  # another caller: its own count
    said = workers.log_path.read_text().count("rate limit: 'api-user:") - logged
    assert said == 1  # logged once, by the process whose count reached the limit


def test_failed_sign_ins_are_counted_across_the_processes(workers: Server) -> None:
    """Sequential requests, each committed before it is answered: exactly FAILURES pass, and
    the requests that reach the other process are refused as well."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2")  # a source address of its own
    form = {"grant_type": "client_credentials", "client_id": "no-such-client"}
    with httpx.Client(transport=transport, base_url=workers.url, timeout=30) as client:
        answers = in_one_window(
            WINDOW,
            10,
            lambda: [
                client.post(f"{OIDC}/token", data=form, headers={"Connection": "close"})
                for _ in range(3 * FAILURES)
            ],
        )
    statuses = [a.status_code for a in answers]
    assert statuses == [401] * FAILURES + [429] * 2 * FAILURES, statuses
    assert answers[-1].json()["error"] == "too_many_requests"
    assert _token(workers, DEMO_EMAIL)  # from another address: not concerned
