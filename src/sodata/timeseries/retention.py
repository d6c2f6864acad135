"""Retention of raw points, and PostgreSQL's monthly partitions of them (README, "Retention").

With `SODATA_RAW_RETENTION_DAYS=N`, raw points older than N days are removed and the rollups
(the 15-minute and hourly partials) stay, so 15-minute to yearly aggregates still answer for
any period. Ingestion refuses points older than N days (`horizon`): a late point in a day whose
raw points are gone would recompute that day's rollups from what is left of them. Removal
trails the horizon by a day (MARGIN_MS), so a write checked against the horizon a moment
before never recomputes a day whose points are being removed.

PostgreSQL: `datapoints` is partitioned by range of `at`, a partition per UTC month
(datapoints_pYYYYMM, migration 0004). Each round creates this month's partition and the next
AHEAD_MONTHS' ahead; a write to a month with none (old history imported) creates it in its
transaction (`store.ensure_partitions`). Removal detaches partitions CONCURRENTLY (readers and writers
never wait) and drops them once they end before the bound: raw points stay at least N days,
and at most a month longer. SQLite: removal deletes the points before the bound, at most
DELETE_ROWS per transaction, so writers keep their turns.

`sodata serve` runs a round at its start and every ROUND_SECONDS (`Rounds`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, cast

import numpy as np
from sqlalchemy import select, text
from sqlalchemy.engine import CursorResult, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sodata.kit.db import make_engine
from sodata.models import Variable
from sodata.timeseries.calendar import DAY_MS, month_of, month_start
from sodata.timeseries.store import Db, ensure_partitions, partition_month

log = logging.getLogger(__name__)

AHEAD_MONTHS = 2
MARGIN_MS = DAY_MS
ROUND_SECONDS = 3600.0
DELETE_ROWS = 20_000
# pg_try_advisory_lock key: one process at a time removes partitions
_ROUND_LOCK = 0x50D47B


def horizon(days: int | None, now: int) -> int | None:
    """The oldest time (ms) a point may have to be taken, or None when raw points are kept."""
    return None if days is None else now - days * DAY_MS


def removal_bound(days: int, now: int) -> int:
    """Raw points before this time (ms, a UTC midnight) are removed."""
    return (now - days * DAY_MS - MARGIN_MS) // DAY_MS * DAY_MS


def run(engine: Engine, days: int | None, now: int) -> int:
    """One round: partitions ahead (PostgreSQL), and raw points past the retention removed.
    Returns how many partitions were dropped (PostgreSQL) or points deleted (SQLite)."""
    if engine.dialect.name == "postgresql":
        return _postgres_round(engine, days, now)
    return 0 if days is None else _delete_before(engine, removal_bound(days, now))


def _postgres_round(engine: Engine, days: int | None, now: int) -> int:
    this_month = int(month_of(np.array([now]))[0])
    with Session(engine) as session:
        ensure_partitions(Db(session), range(this_month, this_month + AHEAD_MONTHS + 1))
        session.commit()
    if days is None:
        return 0
    bound = removal_bound(days, now)
    dropped = 0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SET lock_timeout = '10s'")
        if not conn.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": _ROUND_LOCK}
        ).scalar():
            return 0  # another process runs this round
        try:
            attached: dict[str, bool] = dict(
                conn.execute(
                    text(
                        "SELECT c.relname, i.inhdetachpending FROM pg_inherits i"
                        " JOIN pg_class c ON c.oid = i.inhrelid"
                        " WHERE i.inhparent = 'datapoints'::regclass"
                    )
                ).all()
            )
            tables = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
            for name in sorted(tables):
                month = partition_month(name)
                if month is None or month_start(month + 1) > bound:
                    continue
                if name in attached:  # FINALIZE: a detach that was interrupted
                    mode = "FINALIZE" if attached[name] else "CONCURRENTLY"
                    conn.exec_driver_sql(f"ALTER TABLE datapoints DETACH PARTITION {name} {mode}")
                conn.exec_driver_sql(f"DROP TABLE {name}")
                dropped += 1
                log.info("retention: dropped %s (raw points before %s days)", name, days)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _ROUND_LOCK})
    return dropped


def _delete_before(engine: Engine, bound: int) -> int:
    """SQLite: delete the raw points before `bound`, a transaction per DELETE_ROWS at most."""
    with Session(engine) as session:
        variables = session.scalars(select(Variable.id).order_by(Variable.id)).all()
    deleted = 0
    for lo in range(0, len(variables), 500):
        chunk = ",".join(map(str, variables[lo : lo + 500]))
        while True:
            with Session(engine) as session:
                result = session.execute(
                    text(
                        "DELETE FROM datapoints WHERE (variable_id, at) IN (SELECT variable_id,"
                        f" at FROM datapoints WHERE variable_id IN ({chunk}) AND at < :bound"
                        " LIMIT :rows)"
                    ),
                    {"bound": bound, "rows": DELETE_ROWS},
                )
                count = cast(CursorResult[Any], result).rowcount  # a DELETE's: a cursor's
                session.commit()
            deleted += count
            if count < DELETE_ROWS:
                break
    if deleted:
        log.info("retention: deleted %d raw points before %s", deleted, bound)
    return deleted


class Rounds:
    """A thread running a round at once, then every ROUND_SECONDS, until stop(); on its own
    connection to the database at `url`."""

    def __init__(self, url: str, days: int | None) -> None:
        self.engine = make_engine(url, connections=1)
        self.days = days
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)

    def start(self) -> Rounds:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run(self.engine, self.days, int(time.time() * 1000))
            except OperationalError as exc:  # the database away, a lock not had
                log.warning("retention round failed (%s); the next is in %g s", exc, ROUND_SECONDS)
            except Exception:
                log.exception("retention round failed; the next is in %g s", ROUND_SECONDS)
            self._stop.wait(ROUND_SECONDS)
