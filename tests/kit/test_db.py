"""The SQLite write path of kit/db.py on a real database file: group commit, the write lane
shared by processes (neither starves the other), and bounded waits."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from sodata.kit.db import _GROUPS, commit_writes, make_engine, make_sessionmaker
from sodata.kit.errors import Overloaded


def _database(tmp_path: Path, wait: float = 5.0):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}", connections=8, wait=wait)
    with engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE t (job INTEGER, n INTEGER)")
    return engine


def _insert(job: int, rows: int = 3):
    def work(session: Session) -> None:
        for n in range(rows):
            session.execute(text("INSERT INTO t VALUES (:job, :n)"), {"job": job, "n": n})

    return work


def test_waiting_writers_are_committed_together_and_a_failing_one_alone_is_refused(
    tmp_path: Path,
) -> None:
    engine = _database(tmp_path)
    commits: list[int] = []
    event.listen(engine, "commit", lambda _c: commits.append(1))
    factory = make_sessionmaker(engine)
    group = _GROUPS[engine]
    first_inside, followers = threading.Event(), 6
    outcome: dict[int, BaseException | None] = {}

    def first_work(session: Session) -> None:
        _insert(0)(session)
        first_inside.set()
        deadline = time.monotonic() + 10
        while len(group._queue) < followers and time.monotonic() < deadline:
            time.sleep(0.01)  # the others queue up behind this commit

    def failing(session: Session) -> None:
        _insert(99)(session)
        raise ValueError("this job's own mistake")

    def call(job: int, work) -> None:
        try:
            with factory() as session:
                commit_writes(session, work)
            outcome[job] = None
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome[job] = exc

    leader = threading.Thread(target=call, args=(0, first_work))
    leader.start()
    assert first_inside.wait(10)
    works = {job: _insert(job) for job in range(1, followers)} | {followers: failing}
    threads = [threading.Thread(target=call, args=item) for item in works.items()]
    for t in threads:
        t.start()
    for t in [leader, *threads]:
        t.join(20)
    assert outcome.pop(followers).args == ("this job's own mistake",)
    assert outcome == dict.fromkeys(range(followers), None)
    assert len(commits) == 2, "the jobs that waited behind the first were committed together"
    with engine.connect() as c:
        stored = c.exec_driver_sql("SELECT job, count(*) FROM t GROUP BY job").all()
    assert dict(stored) == dict.fromkeys(range(followers), 3)  # nothing of the failing job
    engine.dispose()


def test_a_writer_waits_a_bounded_time_for_another_process(tmp_path: Path) -> None:
    engine = _database(tmp_path, wait=0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path / "db.sqlite")], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        started = time.monotonic()
        with pytest.raises(Overloaded), make_sessionmaker(engine)() as session:
            commit_writes(session, _insert(1))
        assert 0.4 < time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    with make_sessionmaker(engine)() as session:  # the holder is gone: the lane is free
        commit_writes(session, _insert(2))
    engine.dispose()


_HOLD = """
import sys, time
from sodata.kit.db import make_engine
engine = make_engine("sqlite:///" + sys.argv[1], wait=30)
with engine.connect() as c:
    c.exec_driver_sql("INSERT INTO t VALUES (0, 0)")  # takes the lane, then keeps it
    print("holding", flush=True)
    time.sleep(60)
"""

_WRITE_FOR = """
import sys, threading, time
from sqlalchemy import text
from sodata.kit.db import make_engine, make_sessionmaker
engine = make_engine("sqlite:///" + sys.argv[1], connections=4, wait=30)
factory, job, end = make_sessionmaker(engine), int(sys.argv[2]), float(sys.argv[3])

def write():
    while time.time() < end:
        with factory() as session:  # a write outside any group, as the API's changes are
            session.execute(text("INSERT INTO t VALUES (:j, 0)"), {"j": job})
            time.sleep(0.004)  # the rest of a write's work, holding the lock
            session.commit()

threads = [threading.Thread(target=write) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_two_busy_processes_both_get_to_write(tmp_path: Path) -> None:
    """Four threads of each process commit back to back: with SQLite's own lock alone, one
    process would starve the other (its waiters retry every 100 ms); the lane shares it."""
    engine = _database(tmp_path)
    end = time.time() + 4
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITE_FOR, str(tmp_path / "db.sqlite"), str(job), str(end)]
        )
        for job in (1, 2)
    ]
    for w in writers:
        assert w.wait(60) == 0
    with engine.connect() as c:
        counts = dict(c.exec_driver_sql("SELECT job, count(*) FROM t GROUP BY job").all())
    total = sum(counts.values())
    assert total > 50, counts
    assert min(counts.get(1, 0), counts.get(2, 0)) >= total * 0.2, counts
    engine.dispose()
