"""Backup and restore (docs/deployment.md, "Backup and restore"), once per backend, as an
operator does them: a backup taken while the server runs and takes points, restored into a
fresh place, `sodata migrate` on it, a second server started on it; the restored server
answers the same raw points, daily aggregates and last values as the original, and /ready.

- SQLite: the sqlite3 online backup API (`src.backup(dst)`) on the live file, whose last
  commits may still be in its WAL (copying the file alone would miss them).
- PostgreSQL: `pg_dump -Fc` of the server's database, `createdb` and `pg_restore` into a new
  one, dropped at the end. Without pg_dump or pg_restore the test skips and says why, except
  with CI=true, where it fails.

The points are sent to a demo device for three days of 2023 (a period the demo's history leaves
empty), and one more at the current time, so that they are its last values. The original's
answers are checked against what was sent before they are compared with the restored one's.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from sodata.demo import ids
from tests.conftest import BACKENDS, PG_ADMIN_URL, Server, _pg_url, client_as
from tests.datapoints.wire import CURRENT_L3, LOAD, iso, ms, ok, pairs, points

pytestmark = pytest.mark.scenario
DEVICE = str(ids.MASTERYS_U2_CDS)  # in SoLink; demo history on LOAD, CURRENT_L3 (and 140500)
BASE = f"/api/v1/ca/{ids.SOLINK}"
DAYS = ("2023-03-13", "2023-03-14", "2023-03-15")  # UTC days without demo history
STEP_S = 300  # a point every 5 minutes: 288 a day per series
SEEDED = "Demo data seeded."  # what `sodata serve --demo` prints when it fills a database


def _values(count: int, phase: int) -> list[float]:
    """Values of one decimal that differ from point to point (so a wrong order or a missing
    point changes the aggregates)."""
    return [
        round(50 + 30 * math.sin((i + phase) / 37) + ((i * 7919 + phase) % 101) / 10, 1)
        for i in range(count)
    ]


def _send(api: httpx.Client) -> tuple[dict[str, list[tuple[int, float]]], int]:
    """Sends three days of points on LOAD and CURRENT_L3, then one point each at the current
    second; returns the three days' points by mapping config, and the current point's time."""
    count = len(DAYS) * 86_400 // STEP_S
    history = {
        LOAD: points(f"{DAYS[0]}T00:00:00Z", count, STEP_S, _values(count, 0)),
        CURRENT_L3: points(f"{DAYS[0]}T00:00:00Z", count, STEP_S, _values(count, 500)),
    }
    url = f"{BASE}/devices/{DEVICE}/datapoints"
    for mapping, data in history.items():  # one call per series, then both in one
        answer = ok(api.post(url, json={"series": [{"mappingConfig": mapping, "data": data}]}))
        assert answer == {"accepted": count, "rejected": 0, "errors": []}, answer
    now = int(datetime.now(UTC).timestamp()) * 1000
    latest = [
        {"mappingConfig": LOAD, "data": [{"at": iso(now), "value": 42.5}]},
        {"mappingConfig": CURRENT_L3, "data": [{"at": iso(now), "value": 17.25}]},
    ]
    answer = ok(api.post(url, json={"series": latest}))
    assert answer == {"accepted": 2, "rejected": 0, "errors": []}, answer
    sent = {m: [(ms(p["at"]), p["value"]) for p in data] for m, data in history.items()}
    return sent, now


def _query(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {
        "timezone": "UTC",
        "useDeviceLocalTimezone": False,
        "series": [{"deviceUuid": DEVICE, "mappingConfig": m} for m in (LOAD, CURRENT_L3)],
        **fields,
    }
    if "aggregation" in fields:
        aggregation = body.pop("aggregation")
        body["series"] = [{**s, "aggregation": aggregation} for s in body["series"]]
    return ok(api.put(f"{BASE}/datapoints", json=body))


def _answers(api: httpx.Client) -> dict[str, Any]:
    """What is compared between the two servers: raw points and daily averages of the three
    days, daily averages of the demo's May to July 2022 in Paris (its history, from the
    rollups), the yearly counts of all time, the device's last values."""
    days = {"from": f"{DAYS[0]}T00:00:00Z", "to": "2023-03-16T00:00:00Z"}
    return {
        "raw": _query(api, granularity="raw", **days),
        "daily avg": _query(api, granularity="day", aggregation="avg", **days),
        "demo daily stdev": _query(
            api,
            granularity="day",
            aggregation="stdev",
            timezone="Europe/Paris",
            **{"from": "2022-05-01T00:00:00", "to": "2022-07-29T00:00:00"},
        ),
        "yearly count": _query(
            api,
            granularity="year",
            aggregation="count",
            **{"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"},
        ),
        "last values": ok(api.get(f"{BASE}/devices/{DEVICE}/last-values")),
    }


def _check_sent(answers: dict[str, Any], sent: dict[str, list], now: int) -> None:
    """The original server's answers hold what was sent: so equal answers from the restored
    server mean the restored data, not two empty databases."""
    raw, daily = answers["raw"]["series"], answers["daily avg"]["series"]
    for i, mapping in enumerate((LOAD, CURRENT_L3)):
        assert pairs(raw[i]) == sent[mapping], mapping
        expected = []
        for day in DAYS:
            start = ms(f"{day}T00:00:00Z")
            values = [v for at, v in sent[mapping] if start <= at < start + 86_400_000]
            expected.append((start, sum(values) / len(values)))
        got = pairs(daily[i])
        assert len(got) == len(expected), (mapping, got)
        for (at, value), (start, mean) in zip(got, expected, strict=True):
            assert at == start and math.isclose(value, mean, rel_tol=1e-12), (mapping, at, value)
    demo = answers["demo daily stdev"]["series"]
    assert all(len(series["data"]) > 80 for series in demo), "the demo's May to July 2022"
    (device,) = answers["last values"]["devices"]
    latest = {(v["itemType"], v["itemIndex"], v["serviceId"]): v for v in device["values"]}
    for service, value in (("140100", "42.5"), ("140108", "17.25")):
        assert latest["Global", "0", service]["value"] == value, latest["Global", "0", service]
        assert ms(latest["Global", "0", service]["date"].replace("Z", "+00:00")) == now


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command} exited with {done.returncode}:\n{done.stderr}"
    return done.stdout + done.stderr


# --- SQLite -----------------------------------------------------------------------------------


def _sqlite_backup(live: Path, backup: Path) -> None:
    """The online backup API on the running server's file: a consistent copy of what was
    committed, WAL included (as `sqlite3 FILE ".backup BACKUP"` makes)."""
    assert live.with_name(live.name + "-wal").exists(), "the server runs in WAL mode"
    source, target = sqlite3.connect(live), sqlite3.connect(backup)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _sqlite_restore(backup: Path, place: Path) -> None:
    """A restore is a copy of the backup, once no server has it open."""
    shutil.copyfile(backup, place)
    with sqlite3.connect(place) as check:
        assert check.execute("PRAGMA quick_check").fetchone() == ("ok",)
    check.close()


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_tools() -> None:
    missing = [tool for tool in ("pg_dump", "pg_restore", "createdb") if not shutil.which(tool)]
    if missing:
        reason = f"backup and restore need {', '.join(missing)} (apt-get install postgresql-client)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: this test must run)")
        pytest.skip(reason)


def _pg_env() -> dict[str, str]:
    """libpq's variables for the test's PostgreSQL (SODATA_TEST_PG), for its command-line tools."""
    given = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_URL)
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    names |= {"sslmode": "PGSSLMODE"}
    return {**os.environ, **{names[k]: str(v) for k, v in given.items() if k in names}}


# --- the test ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backup_of_a_running_server_restores_the_same_data(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql":
        _pg_tools()
    first, second = tmp_path / "original", tmp_path / "restored"
    first.mkdir()
    second.mkdir()
    backup = tmp_path / ("sodata.dump" if backend == "postgresql" else "backup.db")
    restored_name = f"sodata_restored_{uuid.uuid4().hex[:12]}"

    original = Server(backend, first, seed=True)
    try:
        with client_as(original, ids.ADMIN_EMAIL) as api:
            sent, now = _send(api)
            # the backup, while the server runs (and after the points were acknowledged)
            if backend == "postgresql":
                _run(["pg_dump", "-Fc", "-d", original.pg_name, "-f", str(backup)], _pg_env())
            else:
                _sqlite_backup(Path(original.database_url.removeprefix("sqlite:///")), backup)
            before = _answers(api)
        _check_sent(before, sent, now)
    finally:
        original.stop()  # and its PostgreSQL database is dropped: the dump is all that is left
    assert SEEDED in original.log_path.read_text(), original.log_tail()
    assert original.unexpected_errors() is None, original.unexpected_errors()

    # the restore, into a fresh place, then `sodata migrate` on it, as the operator does
    if backend == "postgresql":
        _run(["createdb", restored_name], _pg_env())
        database = _pg_url(restored_name)
    else:
        database = str(second / "restored.db")
        _sqlite_restore(backup, Path(database))
    try:
        if backend == "postgresql":
            _run(["pg_restore", "--exit-on-error", "-d", restored_name, str(backup)], _pg_env())
            migrate = [sys.executable, "-m", "sodata", "migrate"]
            out = _run(migrate, {**os.environ, "SODATA_DATABASE_URL": database})
        else:
            env = {k: v for k, v in os.environ.items() if k != "SODATA_DATABASE_URL"}
            out = _run([sys.executable, "-m", "sodata", "migrate", "--db", database], env)
        assert "is up to date" in out, out

        restored = Server(backend, second, database=database)
        try:
            ready = httpx.get(f"{restored.url}/ready", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json()["database"] == backend, ready.json()
            with client_as(restored, ids.ADMIN_EMAIL) as api:  # its users and keys: restored
                after = _answers(api)
        finally:
            restored.stop()
        # `serve --demo` seeds an empty database only: this one came whole from the backup
        assert SEEDED not in restored.log_path.read_text(), restored.log_tail()
        assert restored.unexpected_errors() is None, restored.unexpected_errors()
    finally:
        if backend == "postgresql":
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')

    for name, answer in before.items():
        assert after[name] == answer, f"{name}: the restored server answers otherwise"
