"""Rate limits shared by every process of the server (`sodata serve --workers N`), kept in the
database: one row per (window, key) counts what `key` (e.g. "token-address:10.1.2.3") did in
a fixed window of `window` seconds, aligned on the epoch so that every process agrees on it.
A count changes by one statement, an atomic upsert (INSERT ... ON CONFLICT DO UPDATE SET
count = count + n RETURNING count, SQLite >= 3.35 and PostgreSQL alike), in a short
transaction of its own, taken while the request holds no other connection (or, for a failure,
in the failing request's own transaction); the first count of a process in a new window also
deletes the rows older than the previous window.

Counting each API request in the database would turn every read into a write, and SQLite has
one writer at a time. So a process leases permits (`admit`): it adds a chunk of 1/50 of the
limit (at least 1) to the shared count in one statement, then spends it in memory, without
I/O, on the event loop (`admit_now`); the request that finds its process's permits spent
leases the next chunk, in a thread. A lease is granted only as far as the shared count leaves
room, and once the count has reached the limit every process refuses in memory until the
window ends. Hence, in every window, for every key:
- never more than the limit is admitted, whatever the number of processes;
- at least the limit less what the other processes leased and have not spent, under
  (processes - 1) x chunk, i.e. 2% of the limit per other process (none when they all keep
  receiving requests);
- about 50 writes near the limit, whatever the number of processes, and one per process
  for a caller with few requests.
Measured with `python -m bench.load --workers 2 --only single` on SQLite (GET of an account,
32 connections, a shared 2-core machine whose other jobs make +-10%): 1,458 and 1,530 req/s
with the limits on, 1,476 and 1,549 off, 1,464 and 1,560 with a lease every 100 requests and
windows of 1 s; one request after the other, 2.07 ms on and off. The in-memory path costs 2
to 5 us a request; on PostgreSQL the differences were within the noise of a shared server.

Failures (a wrong client secret or password) are not leased: each is counted once it has
happened, in the failing request's transaction (`record`), and a request is refused when its
key's count has already reached the limit (`exceeded`, a read); requests in flight while the
limit is reached may still pass, at most as many as run at once.

Fixed windows let a caller send up to twice a limit across the end of a window (the last
moments of one, the first of the next). Retry-After is the number of seconds until the window
ends, at least 1. When the database cannot count in time (the SQLite write lane or a lock
busy beyond SODATA_QUEUE_SECONDS, PostgreSQL down), the request is let through: the limits
protect the server, they do not gate it; that is logged once per window, as is the reaching
of a limit (once per window and key, by the process whose count reached it; keys name an
address, a client_id or a caller, never a secret).
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from sodata.kit.errors import Overloaded, overload_reason

log = logging.getLogger(__name__)

LEASES_PER_WINDOW = 50  # a lease is this fraction of the limit
MAX_KEY = 255  # the column's length: longer keys are stored hashed
MAX_KEYS = 100_000  # keys one process remembers in a window; beyond, it forgets them all


@dataclass(frozen=True)
class Limit:
    key: str  # what is counted, e.g. "api-user:42"
    per_window: int  # at most this many in a window; 0: no limit


@dataclass
class _Local:
    """What this process knows of a key in the current window."""

    left: int = 0  # permits leased and not spent yet
    full: bool = False  # the shared count has reached the limit


_MADE = threading.Lock()


class Limiter:
    def __init__(self, factory: sessionmaker[Session], table: Table, window: int) -> None:
        """`table`: the counters' (models.RateLimitCount), with columns window_start, key,
        count; `window`: its length in seconds."""
        self.factory = factory
        self.table = table
        self.window = window
        self._lock = threading.Lock()
        self._keys: dict[str, _Local] = {}
        self._start = 0  # the window of `_keys`
        self._purged = 0  # the last window at whose start this process deleted old rows
        self._failed = 0  # the last window in which the database could not count (logged)

    @classmethod
    def of(cls, state: Any, table: Table, window: int) -> Limiter:
        """The limiter of an application (`state`: its app.state, with its sessionmaker), made
        at the first call."""
        limiter = getattr(state, "rate_limiter", None)
        if limiter is None:
            with _MADE:
                limiter = getattr(state, "rate_limiter", None)
                if limiter is None:
                    limiter = state.rate_limiter = cls(state.sessionmaker, table, window)
        return limiter

    def _window(self) -> tuple[int, int]:
        """The current window's start, and the seconds until its end (at least 1)."""
        now = time.time()
        start = int(now // self.window) * self.window
        return start, max(1, math.ceil(start + self.window - now))

    def _local(self, key: str, start: int) -> _Local:
        """(Under the lock.) What this process knows of `key` in the window at `start`."""
        if start != self._start or len(self._keys) >= MAX_KEYS:
            if start < self._start:  # a request that began in the previous window
                return _Local()
            self._keys.clear()
            self._start = start
        return self._keys.setdefault(key, _Local())

    def admit_now(self, limit: Limit) -> int | None:
        """Without I/O: 0 if a permit this process holds admits the request, the seconds to
        wait if the limit is known to be reached, None if only `admit` can tell."""
        if limit.per_window <= 0:
            return 0
        start, wait = self._window()
        with self._lock:
            local = self._local(limit.key, start)
            if local.left > 0:
                local.left -= 1
                return 0
            return wait if local.full else None

    def admit(self, limit: Limit) -> int:
        """0 if the request is admitted, else the seconds to wait. Leases permits when this
        process holds none: a transaction of its own, so call it in a thread that holds no
        other connection."""
        known = self.admit_now(limit)
        if known is not None:
            return known
        start, wait = self._window()
        chunk = max(1, limit.per_window // LEASES_PER_WINDOW)
        try:
            with self.factory() as session:
                connection = session.connection()
                count = self._add(connection, limit.key, start, chunk)
                if self._purged < start:
                    self._purged = start
                    old = self.table.c.window_start < start - self.window
                    connection.execute(delete(self.table).where(old))
                session.commit()
        except Exception as exc:
            self._fail_open(exc, start)
            return 0
        self._crossed(limit, count - chunk, count, start)
        with self._lock:
            local = self._local(limit.key, start)
            local.left += max(0, min(chunk, limit.per_window - (count - chunk)))
            local.full = local.full or count >= limit.per_window
            if local.left > 0:
                local.left -= 1
                return 0
        return wait

    def exceeded(self, limit: Limit) -> int:
        """The seconds to wait if the count of `limit.key` has reached the limit, else 0: a
        read, in a transaction of its own, unless this process already knows."""
        if limit.per_window <= 0:
            return 0
        start, wait = self._window()
        with self._lock:
            if self._local(limit.key, start).full:
                return wait
        t = self.table
        try:
            with self.factory() as session:
                found = session.connection().execute(
                    select(t.c.count).where(
                        t.c.window_start == start, t.c.key == _stored(limit.key)
                    )
                )
                count = found.scalar() or 0
        except Exception as exc:
            self._fail_open(exc, start)
            return 0
        if count < limit.per_window:
            return 0
        with self._lock:
            self._local(limit.key, start).full = True
        return wait

    def record(self, connection: Connection, limit: Limit) -> None:
        """Counts one more event of `limit.key` (a failure) on `connection`, in the caller's
        transaction: it is shared once that commits."""
        if limit.per_window <= 0:
            return
        start, _ = self._window()
        count = self._add(connection, limit.key, start, 1)
        self._crossed(limit, count - 1, count, start)
        if count >= limit.per_window:
            with self._lock:
                self._local(limit.key, start).full = True

    def _add(self, connection: Connection, key: str, start: int, n: int) -> int:
        """Adds `n` to the count of `key` in the window at `start`; the count after."""
        t = self.table
        insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        new = insert(t).values(window_start=start, key=_stored(key), count=n)
        upsert = new.on_conflict_do_update(
            index_elements=[t.c.window_start, t.c.key], set_={"count": t.c.count + n}
        )
        return connection.execute(upsert.returning(t.c.count)).scalar_one()

    def _crossed(self, limit: Limit, before: int, after: int, start: int) -> None:
        if before < limit.per_window <= after:
            log.warning(
                "rate limit: %r reached its %d in the %d s window from %s UTC; answered 429 "
                "until it ends",
                limit.key[:120],
                limit.per_window,
                self.window,
                time.strftime("%H:%M:%S", time.gmtime(start)),
            )

    def _fail_open(self, exc: Exception, start: int) -> None:
        """Lets the request through if the database is only busy or unavailable."""
        reason = str(exc) if isinstance(exc, Overloaded) else overload_reason(exc)
        if reason is None:
            raise exc
        if self._failed != start:
            self._failed = start
            log.warning("rate limits not counted (%s): requests admitted meanwhile", reason)


def _stored(key: str) -> str:
    """The key as stored: a longer one than the column takes is cut and its hash appended."""
    if len(key) <= MAX_KEY:
        return key
    return key[: MAX_KEY - 65] + "#" + hashlib.sha256(key.encode()).hexdigest()
