"""Engine, sessions and the declarative base. SQLite (embedded default) and PostgreSQL.

A request gets one session; it commits once the endpoint has returned and before the
response is sent, so an acknowledged change is durable. Services never commit.

Concurrency (README, "Concurrency"): a session takes a connection at its first query and gives
it back at commit, so a request holds none while its body arrives or its answer leaves. On
SQLite, readers never wait for writers (WAL), and writers of one process take turns in one
lane: a connection's first write waits for the lane (at most `wait` seconds) and then for
SQLite's write lock (BEGIN IMMEDIATE, the same bound, other processes), and keeps both until
its commit or rollback. A wait that runs out raises `Overloaded`, answered 503.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from sodata.kit.errors import Overloaded

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The longest text a query filter accepts (Query(max_length=...)): far longer than any name,
# email or serial number, far shorter than SQLite's limit on LIKE patterns (50,000 bytes,
# "LIKE or GLOB pattern too complex") and than an index entry on PostgreSQL.
MAX_FILTER_LENGTH = 255
# The statements with which pysqlite itself opens a transaction, and the lock request.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _LaneConnection(sqlite3.Connection):
    """A pysqlite connection whose write transactions take the engine's lane first."""

    lane: threading.Semaphore
    wait: float
    _holds = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:
        return super().cursor(factory or _LaneCursor)

    def before(self, sql: str) -> None:
        if self._holds or not sql.lstrip()[:15].upper().startswith(_WRITES):
            return
        if not self.lane.acquire(timeout=self.wait):
            raise Overloaded(f"another write held the database for over {self.wait:g} s")
        self._holds = True
        if not self.in_transaction and not sql.lstrip().upper().startswith("BEGIN"):
            try:  # take SQLite's write lock now: a deferred BEGIN could meet a newer snapshot
                super().execute("BEGIN IMMEDIATE")
            except BaseException:
                self._release()
                raise

    def _release(self) -> None:
        if self._holds:
            self._holds = False
            self.lane.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


class _LaneCursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.before(sql)  # type: ignore[attr-defined]
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:  # type: ignore[override]
        self.connection.before(sql)  # type: ignore[attr-defined]
        return super().executemany(sql, parameters)


def make_engine(url: str, connections: int | None = None, wait: float = 30.0) -> Engine:
    """`connections`: the pool's size (None: SQLAlchemy's default, for tools and tests);
    `wait`: the longest wait for a connection, the write lane or a lock, in seconds."""
    pool: dict[str, Any] = {"pool_timeout": wait}
    if connections is not None:
        pool |= {"pool_size": connections, "max_overflow": 0}
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):  # one connection per thread
            pool = {}
        lane = type(
            "LaneConnection", (_LaneConnection,), {"lane": threading.Semaphore(1), "wait": wait}
        )
        connect = {"check_same_thread": False, "timeout": wait, "factory": lane}
        engine = create_engine(url, connect_args=connect, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            cur.close()

        return engine
    if connections is None:
        pool |= {"pool_size": 10, "max_overflow": 20}
    # a wait for a row lock is bounded too (answered 503, as a wait for a connection)
    connect = {"options": f"-c lock_timeout={int(wait * 1000)}"}
    return create_engine(url, pool_pre_ping=True, connect_args=connect, **pool)


def lock_row(session: Session, key: InstrumentedAttribute[int], row_id: int) -> None:
    lock_rows(session, key, [row_id])


def lock_rows(session: Session, key: InstrumentedAttribute[int], row_ids: list[int]) -> None:
    """Waits for, then holds until commit, the right to change what hangs on these rows, so a
    check that reads several rows (no gateway cycle) and the write it allows run as one step.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE on the rows, in key order (other writers of them wait; foreign key
    checks of inserts referencing it do not). SQLite locks the whole database for writing
    anyway, but pysqlite starts the transaction only at the first INSERT/UPDATE/DELETE, so
    checks made before it read outside any lock: BEGIN IMMEDIATE takes the write lock first
    (waiting busy_timeout). Rows read before this call may be stale: read again after it."""
    with session.no_autoflush:  # take the lock before writing anything, or writers deadlock
        connection = session.connection()
        if connection.dialect.name != "sqlite":
            ordered = select(key).where(key.in_(sorted(row_ids))).order_by(key)  # no deadlock
            session.execute(ordered.with_for_update(key_share=True))
        elif not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


async def _session(request: Request) -> AsyncIterator[Session]:
    """The request's session, made on the event loop (it holds no connection until its first
    query); the commit, where there is one, takes one thread hop."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        if session.in_transaction():
            await run_in_threadpool(session.commit)
    except BaseException:
        if session.in_transaction():
            await run_in_threadpool(session.rollback)
        raise
    finally:
        session.close()  # nothing left to give back: no I/O


SessionDep = Annotated[Session, Depends(_session, scope="function")]
