"""Engine, sessions and the declarative base. SQLite (embedded default) and PostgreSQL.

A request gets one session; it commits once the endpoint has returned and before the
response is sent, so an acknowledged change is durable. Services never commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker

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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


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


def _session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(_session, scope="function")]
