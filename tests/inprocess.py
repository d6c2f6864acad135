"""A demo server in the test process, on a real socket, whose clock the test moves forward.

The tests that wait for tokens, sessions, lockouts or rate-limit windows to expire do not
sleep: they travel (time-machine) and `advance` the clock. time-machine moves `time.time()`
and `datetime.now()` of every thread of the process, the server's included (its expiry checks,
PyJWT's, the rate limiter's windows, the SDK's renewals); not `time.monotonic()`, so uvicorn's
and asyncio's timeouts, the admission's and the caches' lifetimes are not moved.

The server is made as `sodata serve --demo` makes it (tests/conftest.py's `Server`): a copy of
the session's demo template, `prepare_database` (its signing key), `create_app` with the
settings the environment and `env` give. Its clock never goes back: a test travels from the
real time plus every advance made so far, and only tests that travel talk to it (the fixtures
that hand it out travel). Its warnings and errors (sodata's and uvicorn's loggers, those of its
threads only) go to `log_path`, as a subprocess server's output does."""

from __future__ import annotations

import contextvars
import gc
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import time_machine
import uvicorn

from tests.conftest import Server, Shared, _copy_of_template, _drop_postgres_database

LOGGERS = ("sodata", "uvicorn")
_SERVING: contextvars.ContextVar[InProcessServer | None] = contextvars.ContextVar(
    "inprocess_server", default=None
)


class _OfThisServer(logging.Filter):
    """Records logged while one server handles a request (its event loop's thread, and the
    worker threads its requests run in, which copy the loop's context)."""

    def __init__(self, server: InProcessServer) -> None:
        super().__init__()
        self.server = server

    def filter(self, record: logging.LogRecord) -> bool:
        return _SERVING.get() is self.server


class InProcessServer:
    """The attributes of tests/conftest.py's `Server` that the tests use (`url`, `backend`,
    `log_path`, `pg_name`, `database_url`, `unexpected_errors`), and a clock: `travelling`,
    `advance`."""

    unexpected_errors = Server.unexpected_errors
    log_tail = Server.log_tail

    def __init__(self, backend: str, workdir: Path, env: dict[str, str] | None = None) -> None:
        from sodata.app import create_app
        from sodata.cli.server import prepare_database
        from sodata.config import Settings

        self.backend = backend
        self.log_path = workdir / f"server-{backend}.log"
        self.offset = 0.0  # how far every `advance` so far moved the clock
        self._traveller: time_machine.Traveller | None = None
        database, self.pg_name = _copy_of_template(backend, workdir / "sodata-test.db", True)
        self.database_url = database if self.pg_name else f"sqlite:///{database}"
        self._handler = logging.FileHandler(self.log_path)
        self._handler.setLevel(logging.WARNING)
        self._handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        self._handler.addFilter(_OfThisServer(self))
        for name in LOGGERS:
            logging.getLogger(name).addHandler(self._handler)
        self._gc_threshold = gc.get_threshold()  # the app's start changes them for the process
        self._thread: threading.Thread | None = None
        try:
            prepare_database(self.database_url, demo=True)
            fields = {k.removeprefix("SODATA_").lower(): v for k, v in (env or {}).items()}
            settings = Settings(database_url=self.database_url, demo=True, **fields)
            self.app = create_app(settings)
            listener = socket.create_server(("127.0.0.1", 0))
            self.port = listener.getsockname()[1]
            self.url = f"http://127.0.0.1:{self.port}"
            config = uvicorn.Config(
                self.app, log_level="warning", log_config=None, access_log=False
            )
            self._server = uvicorn.Server(config)

            def serve() -> None:
                _SERVING.set(self)
                self._server.run(sockets=[listener])

            self._thread = threading.Thread(target=serve, name=f"sodata-{self.port}", daemon=True)
            self._thread.start()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._thread is None or not self._thread.is_alive():
                raise RuntimeError(f"the server did not start:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {timeout}s")
            time.sleep(0.02)
        assert httpx.get(self.url + "/health", timeout=10).status_code == 200

    def stop(self) -> None:
        if self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        if hasattr(self, "app"):
            self.app.state.sessionmaker.kw["bind"].dispose()
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)
        self._handler.close()
        gc.unfreeze()
        gc.set_threshold(*self._gc_threshold)
        if self.pg_name:
            _drop_postgres_database(self.pg_name)

    @contextmanager
    def travelling(self) -> Iterator[InProcessServer]:
        """The process's clock, from the real time plus every advance so far, ticking."""
        assert self._traveller is None
        with time_machine.travel(time.time() + self.offset, tick=True) as traveller:
            self._traveller = traveller
            try:
                yield self
            finally:
                self._traveller = None

    def advance(self, seconds: float) -> None:
        """Moves the clock forward, where the test would have slept `seconds`."""
        assert self._traveller is not None, "the clock moves while a test travels"
        self._traveller.shift(seconds)
        self.offset += seconds


@contextmanager
def serve_in_process(
    backend: str, workdir: Path, env: dict[str, str] | None = None
) -> Iterator[InProcessServer]:
    """An in-process demo server for a fixture: stopped afterwards, and failing the fixture
    if it logged an unexpected error (as the subprocess servers' fixtures do)."""
    srv = InProcessServer(backend, workdir, env)
    try:
        yield srv
    finally:
        srv.stop()
    errors = srv.unexpected_errors()
    if errors is not None:
        pytest.fail(f"the in-process {backend} server logged an unexpected error:\n{errors}")


def shared_in_process(
    shared: Shared, tmp: pytest.TempPathFactory, name: str, backend: str, env: dict[str, str]
) -> InProcessServer:
    """The in-process server `name` of `backend` with `env`, started once for the session."""
    return shared.get(
        (name, backend), lambda: serve_in_process(backend, tmp.mktemp(f"{name}-{backend}"), env)
    )
