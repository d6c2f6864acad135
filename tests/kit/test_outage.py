"""A database outage (issue 13, item 2): PostgreSQL stops during a mixed load, then starts again.

The test runs a PostgreSQL of its own (initdb into a temporary directory, on a free port, with
the binaries of /usr/lib/postgresql/*/bin; as the `postgres` user when run as root), never
the shared one, and a demo server on it. While the database is down:

- every request that needs it is answered 503 with Retry-After in the API's error shape (the
  sign-in and a token seen for the first time too), never a 500, within the documented bound
  (OUTAGE_BOUND: the longest wait for a turn, then a connection attempt; a stopped server
  refuses connections, so in fact at once);
- /health answers 200 and /ready 503, within READY_SECONDS;

and once it is back, /ready answers 200 and every kind of request succeeds again, without a
restart of the server, within RECOVERY_SECONDS, and every acknowledged point is stored (a
refused batch is stored whole or not at all: its commit may have happened unanswered).
Without the PostgreSQL binaries the test skips, and fails with CI=true.

A database host that does not answer at all (a port that never speaks) costs a request one
connection attempt (kit/db.py, CONNECT_SECONDS), and the next ones none for a while.
"""

from __future__ import annotations

import asyncio
import base64
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from sodata.app import create_app
from sodata.config import Settings
from sodata.demo import ids
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.kit.db import CONNECT_SECONDS
from sodata.kit.health import READY_SECONDS
from tests.conftest import Server, _free_port, client_as
from tests.datapoints.wire import LOAD, Account, error
from tests.kit.test_concurrency import BATCH, EVERYTHING, batch_times, busy, ingest, stored_times

pytestmark = pytest.mark.scenario
CA = str(ids.SOLINK)
# The documented bound on any answer while the database is down: the longest wait for a turn
# (SODATA_QUEUE_SECONDS), then a connection attempt (connect_timeout, per address of the host;
# a stopped server refuses at once).
OUTAGE_BOUND = Settings().queue_seconds + CONNECT_SECONDS
RECOVERY_SECONDS = 5.0  # from PostgreSQL accepting connections again to /ready and the API
DOWN_SECONDS = 4.0  # how long PostgreSQL stays stopped
THREADS = 6  # client connections of the mixed load
KINDS = ("devices", "datapoints", "ingest")
PAUSE = 0.05  # seconds between two requests of a connection
TOKEN_URL = "/realms/sodata/protocol/openid-connect/token"


# --- a PostgreSQL of the test's own ------------------------------------------------------------


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        reason = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (initdb, pg_ctl)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: the outage test must run)")
        pytest.skip(reason)
    return Path(found[-1]).parent


class PrivatePostgres:
    """initdb into a directory of its own, started and stopped by pg_ctl on a free port, its
    socket in that directory; PostgreSQL refuses to run as root, so as `postgres` then."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="sodata-pg-"))  # short: the socket's path
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.user: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("run as root, and no postgres user to run PostgreSQL as")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.user = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8")
        self._run("initdb", "--version")  # (the version, for the failure message)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/sodata"

    def _run(self, program: str, *args: object, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(self.bin / program), *map(str, args)],
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            **self.user,
        )
        assert done.returncode == 0, f"{program} failed:\n{done.stdout}{done.stderr}"
        return done.stdout

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop")

    def create_database(self) -> None:
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE DATABASE sodata")

    def remove(self) -> None:
        subprocess.run(
            [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            cwd=self.dir,
            capture_output=True,
            timeout=60,
            **self.user,
        )  # whether it runs or not
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        pg.start()
        pg.create_database()
        yield pg
    finally:
        pg.remove()


@pytest.fixture
def own_server(postgres: PrivatePostgres, tmp_path: Path) -> Iterator[Server]:
    """`sodata serve --demo` on the private PostgreSQL (the Server of tests/conftest.py, given
    this database, which it seeds, instead of a copy of the demo template on the shared
    PostgreSQL); its log must show no 500."""
    srv = Server("postgresql", tmp_path, database=postgres.url)
    try:
        assert f"127.0.0.1:{postgres.port}/sodata" in srv.log_path.read_text(), srv.log_tail()
        yield srv
    finally:
        srv.stop()
    errors = srv.unexpected_errors()
    assert errors is None, f"the server logged an unexpected error:\n{errors}"


# --- what the clients saw ----------------------------------------------------------------------


@dataclass
class Answer:
    kind: str
    started: float  # time.monotonic()
    ended: float
    status: int | str  # the HTTP status, or the exception's name
    response: httpx.Response | None
    call: int = -1  # ingestion: the call number (its points are batch_times(call))

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def shown(self) -> str:
        text = self.response.text[:200] if self.response is not None else ""
        return f"{self.kind} {self.status} after {self.seconds:.2f} s {text}"


def timed(kind: str, send: Any, call: int = -1) -> Answer:
    started = time.monotonic()
    try:
        response: httpx.Response | None = send()
        status: int | str = response.status_code  # type: ignore[union-attr]
    except httpx.HTTPError as exc:  # a timeout or a transport error: a failure
        response, status = None, type(exc).__name__
    return Answer(kind, started, time.monotonic(), status, response, call)


@dataclass
class Load:
    """THREADS connections, each sending the KINDS in turn (each starting at another one)
    until `stop` is set; and a watcher asking /health and /ready every 0.2 s."""

    server: Server
    api: httpx.Client
    account: Account
    device: str
    answers: list[Answer] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self._guarded, args=(self._connection, i), daemon=True)
            for i in range(THREADS)
        ] + [threading.Thread(target=self._guarded, args=(self._watcher, 0), daemon=True)]
        for thread in self.threads:
            thread.start()

    def end(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=3 * OUTAGE_BOUND)
        assert not any(t.is_alive() for t in self.threads), "a client thread did not end"
        assert not self.failures, f"a client thread failed: {self.failures[0]!r}"

    def _guarded(self, work: Any, i: int) -> None:
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - reported by end()
            self.failures.append(exc)

    def _client(self, auth: httpx.Auth | None) -> httpx.Client:
        # a hang shows as a ReadTimeout, well past the bound the answers are checked against
        return httpx.Client(base_url=self.server.url, auth=auth, timeout=4 * OUTAGE_BOUND)

    def _record(self, answer: Answer) -> None:
        with self.lock:
            self.answers.append(answer)

    def _connection(self, first: int) -> None:
        series = {"deviceUuid": self.device, "mappingConfig": LOAD}
        with self._client(self.api.auth) as client:
            turn = first
            while not self.stop.is_set():
                kind, k = KINDS[turn % len(KINDS)], -1
                turn += 1
                if kind == "devices":
                    send = partial(client.get, f"/api/v1/ca/{CA}/devices", params={"take": 25})
                elif kind == "datapoints":
                    send = partial(self.account.query, [series], client, **EVERYTHING, take=100)
                else:
                    with self.lock:
                        k, self.calls = self.calls, self.calls + 1
                    send = partial(ingest, client, self.account, self.device, k)
                answer = timed(kind, send, k)
                self._record(answer)
                time.sleep(PAUSE)

    def _watcher(self, _: int) -> None:
        with self._client(None) as client:
            while not self.stop.is_set():
                self._record(timed("/health", lambda: client.get("/health")))
                self._record(timed("/ready", lambda: client.get("/ready")))
                time.sleep(0.2)

    def seen(self, since: float = 0.0, until: float = float("inf")) -> list[Answer]:
        """The answers to the requests sent at or after `since` and answered by `until`."""
        with self.lock:
            return [a for a in self.answers if a.started >= since and a.ended <= until]


def sign_in(client: httpx.Client) -> httpx.Response:
    form = {
        "grant_type": "password",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": ids.ADMIN_EMAIL,
        "password": DEMO_PASSWORD,
    }
    return client.post(TOKEN_URL, data=form)


def wait_for(check: Any, seconds: float) -> float | None:
    """Seconds until check() is true (asked every 0.05 s), or None after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def test_the_server_rides_out_a_database_outage(
    postgres: PrivatePostgres, own_server: Server
) -> None:
    server = own_server
    with (
        client_as(server, ids.ADMIN_EMAIL) as api,
        httpx.Client(base_url=server.url, timeout=4 * OUTAGE_BOUND) as anonymous,
    ):
        account = Account.create(api)
        device = account.device()
        fresh = sign_in(anonymous).json()["access_token"]  # first used while the database is down
        load = Load(server, api, account, device)
        load.start()
        time.sleep(2.0)
        assert load.seen(), "the load sends requests"

        stopping = time.monotonic()
        postgres.stop("immediate")
        stopped = time.monotonic()
        time.sleep(0.5)
        identity = [
            timed("sign-in", lambda: sign_in(anonymous)),
            timed(
                "new token",
                lambda: anonymous.get("/api/v1/ca", headers={"Authorization": f"Bearer {fresh}"}),
            ),
            timed("jwks", lambda: anonymous.get("/realms/sodata/protocol/openid-connect/certs")),
        ]
        time.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - stopping)))

        starting = time.monotonic()
        postgres.start()
        started = time.monotonic()

        def kinds_answer() -> bool:
            fresh_answers = load.seen(since=started)
            return all(
                any(a.kind == kind and a.status == 200 for a in fresh_answers)
                for kind in (*KINDS, "/ready")
            )

        back = wait_for(kinds_answer, 3 * RECOVERY_SECONDS)
        time.sleep(1.0)  # the load goes on a little after recovery
        load.end()

        answers = load.seen()
        down = load.seen(since=stopped, until=starting)  # sent and answered while it was down
        overlapping = [a for a in answers if a.ended >= stopping and a.started <= started]
        first_503 = min((a.ended for a in answers if a.status == 503), default=None)
        ready_again = min(
            (a.ended for a in load.seen(since=started) if a.kind == "/ready" and a.status == 200),
            default=None,
        )
        api_down = [a for a in down if a.kind in KINDS]
        counts = Counter((a.kind, a.status) for a in answers + identity)
        report = "\n".join(
            [
                f"outage: PostgreSQL stopped (immediate) in {stopped - stopping:.2f} s, "
                f"down {starting - stopping:.1f} s, started in {started - starting:.2f} s",
                "  first 503 after the stop: "
                + (f"{first_503 - stopping:.2f} s" if first_503 else "none"),
                f"  slowest answer overlapping the outage: "
                f"{max((a.seconds for a in overlapping), default=0):.3f} s "
                f"({len(overlapping)} answers; bound {OUTAGE_BOUND:g} s)",
                f"  slowest /ready while down: "
                f"{max((a.seconds for a in down if a.kind == '/ready'), default=0):.3f} s",
                "  /ready 200 again after the start: "
                + (f"{ready_again - started:.2f} s" if ready_again else "never"),
                "  every kind answered 200 again after the start: "
                + (f"{back:.2f} s" if back is not None else "never"),
                "  identity while down: " + "; ".join(a.shown()[:120] for a in identity),
                f"  answers: {dict(sorted(counts.items(), key=str))}",
            ]
        )
        print("\n" + report)

        # never a 500, a hang or a transport error; every refusal is a well-formed 503
        wrong = [a for a in answers + identity if a.status not in (200, 503)]
        assert not wrong, report + "\nnot 200 nor 503:\n" + "\n".join(a.shown() for a in wrong)
        for answer in answers:
            if answer.status == 503:
                assert answer.response is not None
                busy(answer.response)  # the error shape, Retry-After > 0
        slow = [a for a in overlapping if a.seconds > OUTAGE_BOUND]
        assert not slow, report + "\npast the bound:\n" + "\n".join(a.shown() for a in slow)

        before = [a for a in answers if a.ended < stopping]
        assert before and all(a.status == 200 for a in before), report  # a healthy load first
        # while it was down: the API and /ready answered 503, /health 200
        assert api_down and all(a.status == 503 for a in api_down), report
        assert {a.kind for a in api_down} == set(KINDS), report
        ready_down = [a for a in down if a.kind == "/ready"]
        assert ready_down and all(a.status == 503 for a in ready_down), report
        assert all(a.seconds <= READY_SECONDS + 0.5 for a in ready_down), report
        assert "database is unavailable" in error(ready_down[0].response, 503), report
        assert all(a.status == 200 for a in answers if a.kind == "/health"), report
        # the sign-in and a token never seen before need the database: 503 (the API's shape or
        # Keycloak's), not a 500
        assert identity[0].status == 503 and identity[1].status == 503, report
        assert identity[1].response is not None
        busy(identity[1].response)

        # back without a restart of the server
        assert server.process.poll() is None, "the server kept running"
        assert ready_again is not None and ready_again - started <= RECOVERY_SECONDS, report
        assert back is not None and back <= RECOVERY_SECONDS, report

        # every acknowledged point is stored; a refused batch wholly or not at all
        acknowledged: set[int] = set()
        refused: list[int] = []
        for answer in answers:
            if answer.kind != "ingest":
                continue
            if answer.status == 200:
                assert answer.response is not None
                assert answer.response.json() == {"accepted": BATCH, "rejected": 0, "errors": []}
                acknowledged |= set(batch_times(answer.call))
            else:
                refused.append(answer.call)
        stored = stored_times(account, device)
        lost = acknowledged - stored
        assert not lost, f"{report}\n{len(lost)} acknowledged points lost"
        partial = [k for k in refused if 0 < len(stored & set(batch_times(k))) < BATCH]
        assert not partial, f"{report}\nrefused batches stored in part: {partial}"
        committed = sum(len(stored & set(batch_times(k))) == BATCH for k in refused)
        print(
            f"  points: {len(acknowledged)} acknowledged, all stored; {len(refused)} batches "
            f"refused ({committed} of them committed before the answer was lost)"
        )


# --- a database host that never answers ---------------------------------------------------------


@contextmanager
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts (its backlog, then it drops the SYNs) and
    nobody ever answers: a database host that hangs, where a stopped one refuses at once."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# a token of a key not in the signing keys' cache: verifying it reads them from the database
UNKNOWN_KEY_TOKEN = f"{_b64({'alg': 'RS256', 'kid': 'unknown', 'typ': 'JWT'})}.{_b64({})}.AAAA"


def test_a_database_that_never_answers_costs_a_bounded_wait() -> None:
    """/ready answers 503 within READY_SECONDS; a request that needs the database (a sign-in:
    its rate limit count, then its own work) answers 503 after one connection attempt of
    CONNECT_SECONDS (not psycopg's 130 s, nor one per connection it asks for), and the next
    requests at once, until the breaker lets the engine try again."""
    with silent_port() as port:
        app = create_app(Settings(database_url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"))

        async def run() -> list[tuple[str, httpx.Response, float]]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                answers = []
                for kind in ("/ready", "/ready", "sign-in", "sign-in again", "API"):
                    started = time.monotonic()
                    if kind.startswith("sign-in"):
                        response = await client.post(TOKEN_URL, data={"grant_type": "password"})
                    elif kind == "API":  # a token never seen: its signing key is read
                        token = {"Authorization": f"Bearer {UNKNOWN_KEY_TOKEN}"}
                        response = await client.get("/api/v1/ca", headers=token)
                    else:
                        response = await client.get(kind)
                    answers.append((kind, response, time.monotonic() - started))
                return answers

        answers = asyncio.run(run())
    report = "; ".join(f"{kind} {r.status_code} after {took:.2f} s" for kind, r, took in answers)
    print(f"\nsilent database: {report}")
    bounds = {
        "/ready": READY_SECONDS + 0.5,
        "sign-in": CONNECT_SECONDS + 2.0,  # a loaded machine: the hops around the attempt
        "sign-in again": 1.0,
        "API": 1.0,
    }
    for kind, response, took in answers:
        assert response.status_code == 503, report
        busy(response)
        assert took <= bounds[kind], report
    assert answers[2][2] >= CONNECT_SECONDS - 0.5, f"one connection attempt: {report}"
