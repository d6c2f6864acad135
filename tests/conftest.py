"""Tests start the real server (`sodata serve --demo`) and talk HTTP to it.

Every test that uses `api` runs once per database backend: SQLite (embedded) and
PostgreSQL (127.0.0.1:5432, user postgres). Set SODATA_TEST_BACKENDS=sqlite to run one.
Without PostgreSQL its tests skip and say why, except with CI=true, where they fail.
"""

from __future__ import annotations

import fcntl
import gc
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bench.common import wait_healthy
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import ADMIN_EMAIL

BACKENDS = [
    b.strip()
    for b in os.environ.get("SODATA_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if b.strip()
]
PG_ADMIN_URL = os.environ.get("SODATA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

# One run of the suite. pytest-xdist's workers inherit it from the process that started them
# (the one that owns the run), and share its database templates (`_template`).
_OWNS_RUN = "SODATA_TEST_RUN" not in os.environ
RUN = os.environ.setdefault("SODATA_TEST_RUN", uuid.uuid4().hex[:12])
T = TypeVar("T")

# Password hashing at its cheapest, for the test process and the servers it starts (as
# Django's tests use a fast hasher): the suite signs in thousands of times, and at the
# default cost a sign-in is two argon2 checks of a quarter second of CPU each. The tests of
# the cost itself (tests/identity/test_passwords.py) set their own.
TEST_ARGON2 = {
    "SODATA_ARGON2_MEMORY_KIB": "8",
    "SODATA_ARGON2_ITERATIONS": "1",
    "SODATA_ARGON2_PARALLELISM": "1",
}
for _name, _value in TEST_ARGON2.items():
    os.environ.setdefault(_name, _value)


def _share_one_ssl_context() -> None:
    """httpx makes an SSL context for every client it builds (and every `httpx.get`), loading
    certifi's CA bundle: 20 ms of CPU each. The suite builds tens of thousands of clients,
    which made this its largest single cost, though every server it starts speaks plain HTTP
    on loopback. In the test process, the clients with the default verification share one
    context."""
    from httpx._transports import default

    make = getattr(default, "create_ssl_context", None)
    if make is None:  # another httpx: slower tests, nothing else
        return
    context = make()

    def shared(
        verify: ssl.SSLContext | str | bool = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None and trust_env:
            return context
        return make(verify=verify, cert=cert, trust_env=trust_env)

    default.create_ssl_context = shared  # type: ignore[assignment]


_share_one_ssl_context()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the tests' PostgreSQL."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}"


def _postgres_database(name: str | None = None) -> tuple[str, str]:
    """Create an empty database (`name`, or a new one); return its SQLAlchemy URL and name."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            name = name or f"sodata_test_{uuid.uuid4().hex[:12]}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        reason = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)
    return _pg_url(name), name


@contextmanager
def fresh_database(backend: str, directory: Path, demo: bool = False) -> Iterator[str]:
    """The URL of a new migrated database on `backend` (with `demo`, holding the demo data as
    `serve --demo` seeds it), a copy of the session's template; dropped afterwards."""
    database, pg_name = _copy_of_template(backend, directory / "test.db", demo)
    try:
        yield database if pg_name else f"sqlite:///{database}"
    finally:
        if pg_name:
            _drop_postgres_database(pg_name)


@contextmanager
def open_session(url: str) -> Iterator[Session]:
    from sodata.kit.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _drop_postgres_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# (backend, demo) -> the template: a SQLite file, or a PostgreSQL database's name
_TEMPLATES: dict[tuple[str, bool], str] = {}
_TEMPLATE_DIR = Path(tempfile.gettempdir()) / f"sodata-test-templates-{RUN}"


def _template_name(backend: str, demo: bool) -> str:
    kind = "demo" if demo else "migrated"
    if backend == "postgresql":
        return f"sodata_test_template_{RUN}_{kind}"
    return str(_TEMPLATE_DIR / f"{kind}.db")


def _template(backend: str, demo: bool) -> str:
    """A migrated database made once per run of the suite and backend, that tests copy:
    migrating takes a fraction of a second, and seeding the demo seconds; a copy, hundredths.
    With `demo`, the demo database as `serve --demo` makes it (`prepare_database`), without
    its signing key, which each server makes its own. The first of pytest-xdist's workers to
    need it makes it, under a lock; the others wait, and copy it."""
    key = (backend, demo)
    if key not in _TEMPLATES:
        _TEMPLATE_DIR.mkdir(exist_ok=True)
        name = _template_name(backend, demo)
        made = _TEMPLATE_DIR / f"{backend}-{demo}.made"
        with (_TEMPLATE_DIR / f"{backend}-{demo}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not made.exists():
                _make_template(backend, name, demo)
                made.touch()
        _TEMPLATES[key] = name
    return _TEMPLATES[key]


def _make_template(backend: str, name: str, demo: bool) -> None:
    from sodata.cli.server import prepare_database
    from sodata.migrations import upgrade
    from sodata.models import SigningKey

    url = _postgres_database(name)[0] if backend == "postgresql" else f"sqlite:///{name}"
    if demo:
        prepare_database(url, demo=True)
        with open_session(url) as session:
            session.execute(delete(SigningKey))
            session.commit()
    else:
        upgrade(url)


def _copy_of_template(backend: str, sqlite_path: Path, demo: bool) -> tuple[str, str | None]:
    """A new database copied from a template (`_template`): (SQLite file or PostgreSQL URL,
    the PostgreSQL database's name)."""
    template = _template(backend, demo)
    if backend != "postgresql":
        shutil.copyfile(template, sqlite_path)
        return str(sqlite_path), None
    import psycopg

    name = f"sodata_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return _pg_url(name), name


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The process that owns the run drops the templates, after its workers have ended."""
    if not _OWNS_RUN:
        return
    if any(_TEMPLATE_DIR.glob("postgresql-*.made")):
        for demo in (False, True):
            _drop_postgres_database(_template_name("postgresql", demo))
    shutil.rmtree(_TEMPLATE_DIR, ignore_errors=True)


def pytest_collectstart() -> None:
    gc.disable()  # collection, as a start-up (sodata/startup.py): until it is finished


def pytest_collection_finish() -> None:
    """What collection made (test modules, thousands of items) lives as long as the session:
    later collections skip it, as the servers' start-up does (sodata/startup.py)."""
    gc.freeze()
    gc.enable()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files marked `scenario` first: pytest-xdist hands the files out in this order, and
    those scenarios, which wait on processes and outages, then run beside the short tests
    that keep the cores busy, rather than alone at the end of the run."""
    first = {item.path for item in items if item.get_closest_marker("scenario")}
    items.sort(key=lambda item: item.path not in first)


class Shared:
    """What the fixtures of a backend make once for the whole session (a server, say). A
    session-scoped fixture with a backend param is torn down whenever the next test takes the
    other param: serially that happens once, but a pytest-xdist worker alternates between the
    backends file by file, and would start a server each time."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._made: dict[Hashable, Any] = {}

    def get(self, key: Hashable, make: Callable[[], AbstractContextManager[T]]) -> T:
        """What `make()` enters, entered on first use and left at the end of the session."""
        if key not in self._made:
            self._made[key] = self._stack.enter_context(make())
        return self._made[key]


@pytest.fixture(scope="session")
def shared() -> Iterator[Shared]:
    with ExitStack() as stack:
        yield Shared(stack)


class Server:
    def __init__(
        self,
        backend: str,
        workdir: Path,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        database: str | None = None,
        seed: bool = False,
    ) -> None:
        """`env`: variables added to the server's environment; `args`: extra arguments of
        `sodata serve` (e.g. ["--workers", "2"]); `database`: an existing database to serve
        instead of a new one (a PostgreSQL URL, or a SQLite file), which `stop` leaves alone.
        A new database is a copy of the session's demo template (`_template`), or, with
        `seed`, an empty one that `serve --demo` seeds itself."""
        self.backend = backend
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{backend}.log"
        self.pg_name: str | None = None
        env = {**os.environ, **(env or {})}
        command = [
            sys.executable,
            "-m",
            "sodata",
            "serve",
            "--demo",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        if database is None and not seed:
            database, self.pg_name = _copy_of_template(backend, workdir / "sodata-test.db", True)
        if backend == "postgresql":
            if database is None:
                database, self.pg_name = _postgres_database()
            env["SODATA_DATABASE_URL"] = self.database_url = database
        else:
            env.pop("SODATA_DATABASE_URL", None)
            database = database or str(workdir / "sodata-test.db")
            command += ["--db", database]
            self.database_url = f"sqlite:///{database}"
        command += list(args)
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 120) -> None:
        if not wait_healthy(self.process, self.url, self.log_path, timeout):
            self.stop()
            raise RuntimeError(f"server not ready after {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()
        if self.pg_name:
            _drop_postgres_database(self.pg_name)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text().splitlines()[-lines:])

    def unexpected_errors(self, lines: int = 60) -> str | None:
        """The log from the first unexpected error (a 500 or an escaped exception) on, if any."""
        log = self.log_path.read_text().splitlines()
        first = next(
            (i for i, line in enumerate(log) if "unexpected error" in line or "Traceback" in line),
            None,
        )
        return None if first is None else "\n".join(log[first : first + lines])


@contextmanager
def _shared_server(backend: str, workdir: Path) -> Iterator[Server]:
    srv = Server(backend, workdir)
    try:
        yield srv
    finally:
        srv.stop()
    # Bad input must never give a 500: any test that caused one fails the session here.
    errors = srv.unexpected_errors()
    if errors is not None:
        pytest.fail(f"the {srv.backend} server logged an unexpected error:\n{errors}")


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, shared: Shared
) -> Server:
    """The demo server on the backend of the test's param, shared by the tests that do not
    need one of their own."""
    backend = request.param
    return shared.get(
        ("server", backend), lambda: _shared_server(backend, tmp_path_factory.mktemp(backend))
    )


class PasswordGrant(httpx.Auth):
    """Signs in as a demo user with the password grant, as the spec's clients do, and signs
    in again when the server answers 401 (the access token expired)."""

    def __init__(self, server_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
        self.token_url = f"{server_url}/realms/sodata/protocol/openid-connect/token"
        self.form = {
            "grant_type": "password",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": username,
            "password": password,
        }
        self.token: str | None = None

    def _sign_in(self) -> httpx.Request:
        return httpx.Request("POST", self.token_url, data=self.form)

    def auth_flow(self, request: httpx.Request):
        if self.token is None:
            answer = yield self._sign_in()
            answer.read()
            assert answer.status_code == 200, answer.text
            self.token = answer.json()["access_token"]
        request.headers["Authorization"] = f"Bearer {self.token}"
        response = yield request
        if response.status_code == 401:
            answer = yield self._sign_in()
            answer.read()
            self.token = answer.json()["access_token"]
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


def client_as(server: Server, username: str | None) -> httpx.Client:
    """An HTTP client on the server, signed in as `username` (None: no credentials)."""
    auth = PasswordGrant(server.url, username) if username else None
    return httpx.Client(base_url=server.url, timeout=30, auth=auth)


@pytest.fixture(scope="session")
def api(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client on the running demo server, signed in as admin@example.com (the demo's
    platform operator, admin of every demo corporate account)."""
    with client_as(server, ADMIN_EMAIL) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client without credentials."""
    with client_as(server, None) as client:
        yield client


def unique(prefix: str) -> str:
    """A name no other test uses: tests share one server, so they create their own objects."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"
