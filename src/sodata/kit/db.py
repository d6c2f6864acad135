"""Engine, session factory and the declarative base. SQLite (embedded default) and
PostgreSQL. The request's session, a FastAPI dependency, is in `kit.sessions`: this module is
shared with the time-series engine, the CLI and the MQTT workers, which know no HTTP.

Services never commit, but for ingestion, whose points `commit_writes` commits together with
those of concurrent requests.

Concurrency (README, "Concurrency"): on SQLite, readers never wait for writers (WAL), and writers take turns in one lane per database
(`_Lane`: threads, then processes): a connection's first write waits for the lane and then for
SQLite's write lock (BEGIN IMMEDIATE, against other programs), each at most `wait` seconds,
and keeps both until its commit or rollback. A wait that runs out raises `Overloaded`,
answered 503.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar, overload

import orjson
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker

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
# PostgreSQL down or unreachable (README, "Database outage"): a request that needs it is
# answered 503 with Retry-After (kit/errors.py), without restarting anything afterwards:
# - a stopped server refuses connections: the 503 comes at once;
# - a host that does not answer: a connection attempt gives up after CONNECT_SECONDS per
#   address of the host (connect_timeout; psycopg's default would be 130 s), after which the
#   engine's further attempts fail at once for CONNECT_SECONDS (`_ConnectBreaker`), so that a
#   request pays one such wait, not one per connection it asks for;
# - a connection whose host or network vanished: data it sent and that stays unacknowledged
#   for 5 s closes it (tcp_user_timeout; TCP alone retransmits for ~15 minutes), as does
#   silence while it awaits an answer (keepalives after 10 s idle, then every 5 s: ~15 s); a
#   busy server's kernel still acknowledges, so no long query is cut;
# - the pool pre-pings each connection at checkout: one the database dropped is replaced
#   (and every older one with it), so the server answers again once the database does.
# A database that accepts connections but never answers (frozen) holds the requests that
# reached it; the others get their 503 after SODATA_QUEUE_SECONDS, once those hold every turn.
# A URL's own parameters (e.g. ?connect_timeout=10) win over these.
CONNECT_SECONDS = 3
PG_OUTAGE_BOUNDS: dict[str, Any] = {
    "connect_timeout": CONNECT_SECONDS,
    "tcp_user_timeout": 5_000,  # ms
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 1,
}
# The statements with which pysqlite itself opens a transaction, and the lock request.
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "BEGIN IMMEDIATE")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class _Lane:
    """The writers of one SQLite database take turns: the threads of a process through a
    semaphore, the processes through an advisory lock on a file beside the database (flock),
    tried every half millisecond. SQLite's own lock would do, but its waiters retry only every
    100 ms, so a process whose writers follow each other closely would starve the others; here
    a process that has just written steps aside for a millisecond when another one waits."""

    POLL = 0.0005  # the longest pause between two tries for the lock file
    STEP_ASIDE = 0.001  # longer than POLL: a waiting process tries at least once meanwhile

    def __init__(self, path: str | None, wait: float) -> None:
        self.wait = wait
        self._turn = threading.Semaphore(1)
        self._released = 0.0
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        self._files = (
            (os.open(f"{path}-lane", flags, 0o644), os.open(f"{path}-lane-waiting", flags, 0o644))
            if path
            else None
        )
        for fd in self._files or ():
            weakref.finalize(self, os.close, fd)

    def acquire(self) -> bool:
        deadline = time.monotonic() + self.wait
        if not self._turn.acquire(timeout=self.wait):
            return False
        if self._files is None:
            return True
        try:
            if self._lock_file(deadline):
                return True
        except BaseException:
            self._turn.release()  # a failing flock (a file system without locks) loses no turn
            raise
        self._turn.release()
        return False

    def _lock_file(self, deadline: float) -> bool:
        lane, waiting = self._files  # type: ignore[misc]
        if time.monotonic() - self._released < self.STEP_ASIDE and self._others_wait():
            time.sleep(self.STEP_ASIDE)
        pause, marked = self.POLL / 8, False
        try:
            while True:
                try:
                    fcntl.flock(lane, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
                if not marked:  # another process holds it: say that this one waits
                    fcntl.flock(waiting, fcntl.LOCK_SH)
                    marked = True
                if time.monotonic() + pause > deadline:
                    return False
                time.sleep(pause)
                pause = min(2 * pause, self.POLL)
        finally:
            if marked:
                fcntl.flock(waiting, fcntl.LOCK_UN)

    def _others_wait(self) -> bool:
        waiting = self._files[1]  # type: ignore[index]
        try:
            fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True  # another process holds it shared while it waits
        fcntl.flock(waiting, fcntl.LOCK_UN)
        return False

    def release(self) -> None:
        if self._files is not None:
            fcntl.flock(self._files[0], fcntl.LOCK_UN)
        self._released = time.monotonic()
        self._turn.release()


_CursorT = TypeVar("_CursorT", bound=sqlite3.Cursor)


class _LaneConnection(sqlite3.Connection):
    """A pysqlite connection whose write transactions take the engine's lane first."""

    lane: _Lane
    _holds = False

    @overload
    def cursor(self, factory: None = None) -> sqlite3.Cursor: ...
    @overload
    def cursor(self, factory: Callable[[sqlite3.Connection], _CursorT]) -> _CursorT: ...
    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _LaneCursor)

    def before(self, sql: str) -> None:
        if self._holds or not sql.lstrip()[:15].upper().startswith(_WRITES):
            return
        if not self.lane.acquire():
            raise Overloaded(f"other writes held the database for over {self.lane.wait:g} s")
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


def _json_loads(text: str | bytes) -> Any:
    """JSON columns read by orjson (several times faster on list pages); stdlib json for what
    orjson refuses (NaN, numbers beyond a double), which stdlib json may have written."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, connections: int | None = None, wait: float = 30.0) -> Engine:
    """`connections`: the pool's size (None: SQLAlchemy's default, for tools and tests);
    `wait`: the longest wait for a connection, the write lane or a lock, in seconds."""
    options: dict[str, Any] = {"json_deserializer": _json_loads}
    if not url.startswith("sqlite") or make_url(url).database not in (None, "", ":memory:"):
        options["pool_timeout"] = wait  # (in-memory SQLite: one connection per thread, no pool)
        if connections is not None:
            options |= {"pool_size": connections, "max_overflow": 0}
    if url.startswith("sqlite"):
        path = make_url(url).database
        lane = _Lane(path if path not in (None, "", ":memory:") else None, wait)
        factory = type("LaneConnection", (_LaneConnection,), {"lane": lane})
        connect: dict[str, Any] = {"check_same_thread": False, "timeout": wait, "factory": factory}
        engine = create_engine(url, connect_args=connect, **options)
        _GROUPS[engine] = _Group(wait)

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
        options |= {"pool_size": 10, "max_overflow": 20}
    # a wait for a row lock is bounded too (answered 503, as a wait for a connection)
    connect = {"options": f"-c lock_timeout={int(wait * 1000)}"}
    given = make_url(url).query
    connect |= {k: v for k, v in PG_OUTAGE_BOUNDS.items() if k not in given}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect, **options)
    if engine.dialect.driver == "psycopg":
        timeout = float(str(given.get("connect_timeout", CONNECT_SECONDS)))
        _ConnectBreaker(engine, max(timeout, 2.0))  # (libpq's least timeout is 2 s)
    return engine


class _ConnectBreaker:
    """Once a connection attempt of `engine` has timed out (the host does not answer), the next
    ones fail at once for `seconds`, with the error a refused connection raises (answered 503);
    then they try again. Attempts already under way wait for their own timeout."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        import psycopg

        self.seconds = seconds
        self.until = 0.0
        self._error = psycopg.OperationalError
        self._timeout = psycopg.errors.ConnectionTimeout
        event.listen(engine, "do_connect", self._connect)

    def _connect(self, dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        left = self.until - time.monotonic()
        if left > 0:
            raise self._error(
                f"the database did not answer a connection attempt within {self.seconds:g} s; "
                f"not trying again for {left:.1f} s"
            )
        try:
            return dialect.connect(*cargs, **cparams)
        except self._timeout:
            self.until = time.monotonic() + self.seconds
            raise


def lock_row(session: Session, key: InstrumentedAttribute[int], row_id: int) -> None:
    lock_rows(session, key, [row_id])


def lock_rows(session: Session, key: InstrumentedAttribute[int], row_ids: list[int]) -> None:
    """Waits for, then holds until commit, the right to change what hangs on these rows, so a
    check that reads several rows (no gateway cycle) and the write it allows run as one step.

    PostgreSQL: SELECT ... FOR NO KEY UPDATE on the rows, in key order (other writers of them wait; foreign key
    checks of inserts referencing it do not). SQLite locks the whole database for writing
    anyway, but pysqlite starts the transaction only at the first INSERT/UPDATE/DELETE, so
    checks made before it read outside any lock: BEGIN IMMEDIATE takes the lane and the write
    lock first (bounded waits). Rows read before this call may be stale: read again after it."""
    with session.no_autoflush:  # take the lock before writing anything, or writers deadlock
        connection = session.connection()
        if connection.dialect.name != "sqlite":
            # In key order (no deadlock), a primary key lookup each: an array of the keys (one
            # parameter, joined in C) walked by LATERAL, whatever plan a prepared statement gets.
            ids = "{" + ",".join(map(str, sorted(row_ids))) + "}"
            column, table = key.property.columns[0].name, key.class_.__table__.name
            connection.exec_driver_sql(
                f"SELECT r.{column} FROM unnest(%s::bigint[]) AS k(id) CROSS JOIN LATERAL"
                f" (SELECT {column} FROM {table} WHERE {column} = k.id FOR NO KEY UPDATE) AS r",
                (ids,),
            )
        else:
            _begin_immediate(connection)


def _begin_immediate(connection: Connection) -> None:
    """SQLite: start the transaction as a writer (the lane, then SQLite's write lock)."""
    if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class _Job:
    def __init__(self, work: Callable[[Session], None]) -> None:
        self.work = work
        self.taken = False  # by a leader: it will be written, whatever happens to its caller
        self.done = False
        self.error: BaseException | None = None


class _Group:
    """Group commit on SQLite: a writer that finds another one committing waits; the next one
    to lead writes everything that waits, each job in a savepoint of its own, and commits once
    (one flush to disk for many small batches). Every caller returns once its job is durable,
    or raises its own error (its savepoint rolled back) or the commit's."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self._changed = threading.Condition()
        self._queue: list[_Job] = []
        self._leading = False

    def run(self, session: Session, work: Callable[[Session], None]) -> None:
        job, deadline = _Job(work), time.monotonic() + self.wait
        with self._changed:
            self._queue.append(job)
            while self._leading and not job.done:
                left = deadline - time.monotonic()
                if job.taken:  # the leader writing it answers within its own bounded waits
                    self._changed.wait()
                elif left > 0:
                    self._changed.wait(left)
                else:
                    self._queue.remove(job)
                    raise Overloaded(f"other writes held the database for over {self.wait:g} s")
            if not job.done:
                self._leading = True
                jobs, self._queue = self._queue, []
                for queued in jobs:
                    queued.taken = True
        if not job.done:
            try:
                self._lead(session, jobs)
            except BaseException as exc:  # whatever failed, no job of this group was stored
                for queued in jobs:
                    queued.error = queued.error or exc
                raise
            finally:
                with self._changed:
                    self._leading = False
                    for queued in jobs:
                        queued.done = True
                    self._changed.notify_all()
        if job.error is not None:
            raise job.error

    @staticmethod
    def _lead(session: Session, jobs: list[_Job]) -> None:
        try:
            connection = session.connection()
            _begin_immediate(connection)  # the lane and the write lock before the savepoints
            for job in jobs:
                if len(jobs) == 1:
                    job.work(session)
                    break
                connection.exec_driver_sql("SAVEPOINT job")
                try:
                    job.work(session)
                except Exception as exc:  # noqa: BLE001 - this job's answer, not the others'
                    connection.exec_driver_sql("ROLLBACK TO job")
                    job.error = exc
                connection.exec_driver_sql("RELEASE job")
            session.commit()
        except BaseException as exc:
            for job in jobs:
                job.error = job.error or exc
            session.rollback()


_GROUPS: weakref.WeakKeyDictionary[Engine, _Group] = weakref.WeakKeyDictionary()


def commit_writes(session: Session, work: Callable[[Session], None]) -> None:
    """work(session), then commit: the caller's points are durable when this returns. On SQLite
    the writes of concurrent callers are committed together (`_Group`): `work` may then run in
    another caller's session and thread, so it must only write (what it read, it read before),
    and the caller must not have written before (it would hold the lane its leader waits for)."""
    group = _GROUPS.get(session.get_bind())  # type: ignore[arg-type]
    if group is None:  # PostgreSQL: writers of other variables do not wait for each other
        work(session)
        session.commit()
    else:
        group.run(session, work)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)
