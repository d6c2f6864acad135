"""What every benchmark shares: a real sodata server on a fresh database, signing in, devices
of our own, the year-long series, timing statistics and the result table.

A benchmark starts `python -m sodata serve --demo` on a free port (SQLite: a file in a temporary
directory; PostgreSQL: a fresh database on SODATA_BENCH_PG, dropped at the end), signs in as the
demo's admin@example.com with the password grant, and creates its own customer, site (Europe/Paris)
and devices (the Masterys type, whose profile gives the variables). Baselines talk to the same
database with the driver directly (sqlite3 / psycopg), in this process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import orjson

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import ADMIN_EMAIL, MASTERYS_TYPE, SOLINK

PG_ADMIN_URL = os.environ.get("SODATA_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CA = str(SOLINK)
ZONE = "Europe/Paris"
MINUTE_MS = 60_000
DAY_MS = 86_400_000
# the benchmark year: Paris local 2023-01-01 00:00 to 2024-01-01 00:00 (525,600 minutes)
YEAR_FROM = "2023-01-01T00:00:00Z"  # wall clock, read in Europe/Paris
YEAR_TO = "2024-01-01T00:00:00Z"
YEAR_START_MS = int(datetime(2023, 1, 1, tzinfo=ZoneInfo(ZONE)).timestamp() * 1000)
YEAR_END_MS = int(datetime(2024, 1, 1, tzinfo=ZoneInfo(ZONE)).timestamp() * 1000)
YEAR_MINUTES = (YEAR_END_MS - YEAR_START_MS) // MINUTE_MS  # 525,600
BATCH = 10_000


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--backend",
        action="append",
        choices=["sqlite", "postgresql"],
        help="database backend (repeat for both; default: sqlite)",
    )
    p.add_argument("--keep", action="store_true", help="keep the database (SQLite file or PG db)")
    p.add_argument(
        "--plain-server",
        action="store_true",
        help="run `python -m sodata serve` itself (no Server-Timing header: server-side time\n"
        "is then only estimated as round trip - trivial request)",
    )
    p.add_argument(
        "--workdir", type=Path, default=None, help="where the SQLite file goes (default: /tmp)"
    )
    return p


# --- timing ---------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


@dataclass
class Timing:
    """Durations in seconds; summaries in milliseconds."""

    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def measure(self, fn: Callable[[], Any], repeat: int, warmup: int = 3) -> Any:
        result = None
        for _ in range(warmup):
            result = fn()
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = fn()
            self.samples.append(time.perf_counter() - t0)
        return result

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50) * 1000

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95) * 1000

    @property
    def best(self) -> float:
        return min(self.samples) * 1000

    def __str__(self) -> str:
        return f"p50 {self.p50:8.2f} ms  p95 {self.p95:8.2f} ms  min {self.best:8.2f} ms  (n={len(self.samples)})"


def timed(fn: Callable[[], Any], repeat: int = 1, warmup: int = 0) -> Timing:
    t = Timing()
    t.measure(fn, repeat=repeat, warmup=warmup)
    return t


# --- results ----------------------------------------------------------------------------------


@dataclass
class Row:
    benchmark: str
    backend: str
    measured: str
    baseline: str
    ratio: str
    target: str
    met: bool | None
    load: float = 0.0  # the 1-minute load average when measured (the machine may be shared)


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, *args: Any) -> None:
        row = Row(*args, load=os.getloadavg()[0])
        self.rows.append(row)
        met = {True: "yes", False: "NO", None: "-"}[row.met]
        print(
            f"  => {row.benchmark} [{row.backend}]: {row.measured} | baseline {row.baseline} | "
            f"ratio {row.ratio} | target {row.target}: {met} (load average {row.load:.1f})",
            flush=True,
        )

    def table(self) -> str:
        head = "| benchmark | backend | measured | baseline | ratio | target | met | load |"
        lines = [head, "|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            met = {True: "yes", False: "**no**", None: "-"}[r.met]
            lines.append(
                f"| {r.benchmark} | {r.backend} | {r.measured} | {r.baseline} | {r.ratio} "
                f"| {r.target} | {met} | {r.load:.1f} |"
            )
        return "\n".join(lines)

    def print(self) -> None:
        print("\n" + self.table(), flush=True)


def say(*args: Any) -> None:
    print(*args, flush=True)


# --- databases --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def database(backend: str, workdir: Path | None = None, keep: bool = False) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database on `backend`; removed afterwards."""
    if backend == "postgresql":
        import psycopg

        name = f"sodata_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        try:
            yield f"{base}/{name}"
        finally:
            if not keep:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    directory = Path(tempfile.mkdtemp(prefix="sodata-bench-", dir=workdir))
    try:
        yield f"sqlite:///{directory / 'bench.db'}"
    finally:
        if keep:
            say(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def connect(url: str) -> Any:
    """A driver connection (sqlite3 or psycopg) on the database, outside any server."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60)
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def checkpoint(url: str) -> None:
    """Write what the database holds in its log into its files now (SQLite: the WAL truncated;
    PostgreSQL: CHECKPOINT), so that a measure taken next does not pay for the setup's writes."""
    conn = connect(url)
    if url.startswith("sqlite"):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        conn.autocommit = True
        conn.execute("CHECKPOINT")
    conn.close()


def database_size(url: str) -> str:
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    else:
        with connect(url) as conn:
            total = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    return f"{total / 2**30:.2f} GiB"


@contextmanager
def session_on(url: str) -> Iterator[Any]:
    """A SQLAlchemy session on the database (as the server makes them)."""
    from sodata.kit.db import make_engine, make_sessionmaker

    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


# --- the server -------------------------------------------------------------------------------


ROOT = Path(__file__).resolve().parents[1]


def wait_healthy(
    process: subprocess.Popen[bytes], base: str, log_path: Path, timeout: float
) -> bool:
    """Whether the server `process` started answers 200 on `base`/health within `timeout`
    seconds; raises, with its log, if it exits meanwhile. (Also the tests' `Server`.)"""
    deadline = time.monotonic() + timeout
    # one client for every poll: each new one loads the CA bundle (20 ms of CPU)
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {process.returncode}:\n{log_path.read_text()}"
                )
            try:
                if http.get(base + "/health").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
    return False


class Server:
    """`python -m sodata serve --demo` on a free port, on the database at `url`; by default
    through bench.timed_server (the same command, plus a Server-Timing header on answers).
    `workers`: passed on as `--workers N` (worker processes dealt connections in turn) when given."""

    def __init__(
        self, url: str, log: Path, plain: bool = False, workers: int | None = None
    ) -> None:
        self.url = url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SODATA_ACCESS_TOKEN_LIFETIME": "86400"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        command = "sodata" if plain else "bench.timed_server"
        args = [sys.executable, "-m", command, "serve", "--demo", "--port", str(self.port)]
        args += ["--log-level", "warning"]
        if workers is not None:
            args += ["--workers", str(workers)]
        if url.startswith("sqlite"):
            env.pop("SODATA_DATABASE_URL", None)
            args += ["--db", url.removeprefix("sqlite:///")]
        else:
            env["SODATA_DATABASE_URL"] = url
        self.log_path = log
        self._log = log.open("w")
        t0 = time.perf_counter()
        self.process = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        self._wait_ready()
        say(f"server up on {self.base} in {time.perf_counter() - t0:.1f} s (log {log})")

    def _wait_ready(self, timeout: float = 300) -> None:
        if not wait_healthy(self.process, self.base, self.log_path, timeout):
            self.stop()
            raise RuntimeError(f"server not ready after {timeout}s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def client(self) -> Api:
        return Api(self.base)


@contextmanager
def running(
    backend: str,
    workdir: Path | None = None,
    keep: bool = False,
    plain: bool = False,
    workers: int | None = None,
) -> Iterator[tuple[str, Server]]:
    """A fresh database on `backend` and a demo server on it (`--workers N` if given)."""
    with database(backend, workdir, keep) as url:
        log_dir = Path(tempfile.gettempdir())
        log = log_dir / f"sodata-bench-{backend}-{os.getpid()}-{uuid.uuid4().hex[:6]}.log"
        server = Server(url, log, plain, workers)
        try:
            yield url, server
        finally:
            server.stop()


class Api:
    """An HTTP client signed in as the demo's admin@example.com (Bearer token)."""

    def __init__(self, base: str, timeout: float = 300) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=timeout)
        answer = self.http.post(
            "/realms/sodata/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "username": ADMIN_EMAIL,
                "password": DEMO_PASSWORD,
            },
        )
        answer.raise_for_status()
        self.token = answer.json()["access_token"]
        self.headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
        }

    def call(self, method: str, path: str, body: Any = None, content: bytes | None = None) -> Any:
        if body is not None:
            content = orjson.dumps(body)
        r = self.http.request(method, path, content=content, headers=self.headers)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return orjson.loads(r.content)

    def raw(self, method: str, path: str, content: bytes | None = None) -> tuple[bytes, float]:
        """The answer's body (not decoded) and its server-side time in ms (NaN if the server
        does not say: the plain `sodata serve`)."""
        r = self.http.request(method, path, content=content, headers=self.headers)
        if r.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.content, server_ms(r)

    def close(self) -> None:
        self.http.close()

    # objects of our own

    def site(self) -> str:
        tag = uuid.uuid4().hex[:8]
        customer = self.call("POST", f"/api/v1/ca/{CA}/customers", {"name": f"Bench {tag}"})
        site = self.call(
            "POST",
            f"/api/v1/ca/{CA}/sites",
            {"name": f"Bench site {tag}", "customerUuid": customer["uuid"], "timeZone": ZONE},
        )
        return site["uuid"]

    def device(self, site: str) -> str:
        tag = uuid.uuid4().hex[:8]
        body = {
            "name": f"Bench UPS {tag}",
            "serialNumber": f"BENCH-{tag}",
            "siteUuid": site,
            "deviceTypeUid": str(MASTERYS_TYPE),
        }
        return self.call("POST", f"/api/v1/ca/{CA}/devices", body)["uuid"]

    def variables(self, device: str) -> list[dict]:
        """The device's numeric variables (uuid, mappingConfig)."""
        answer = self.call("GET", f"/api/v1/ca/{CA}/devices/{device}/variables")
        rows = answer["results"] if isinstance(answer, dict) else answer
        found = []
        for v in rows:
            mapping = v.get("mappingConfig") or f"{v['itemType']}|{v['itemIndex']}|{v['serviceId']}"
            if v.get("dataType", "number") == "number":
                found.append({"uuid": v["uuid"], "mappingConfig": mapping})
        return found

    def ingest(self, device: str, content: bytes) -> dict:
        return self.call("POST", f"/api/v1/ca/{CA}/devices/{device}/datapoints", content=content)


def http_timed(
    api: Api, method: str, path: str, content: bytes | None, repeat: int, warmup: int = 5
) -> tuple[Timing, Timing, Any]:
    """Round trips (decoding the JSON answer with orjson included) and the server's own times
    of the same requests; and the last answer."""
    rt, server = Timing(), Timing()
    answer = None
    for i in range(warmup + repeat):
        t0 = time.perf_counter()
        body, ms = api.raw(method, path, content)
        answer = orjson.loads(body)
        took = time.perf_counter() - t0
        if i >= warmup:
            rt.add(took)
            server.add(ms / 1000)
    return rt, server, answer


def server_ms(r: httpx.Response) -> float:
    timing = r.headers.get("server-timing", "")
    if timing.startswith("app;dur="):
        return float(timing.removeprefix("app;dur="))
    return float("nan")


def variable_ids(url: str, uuids: Sequence[str]) -> list[int]:
    """The database ids (series keys) of variables, in the order given."""
    from sqlalchemy import select

    from sodata.models import Variable

    with session_on(url) as session:
        rows = session.execute(
            select(Variable.uuid, Variable.id).where(
                Variable.uuid.in_([uuid.UUID(u) for u in uuids])
            )
        ).all()
    by_uuid = {str(u): i for u, i in rows}
    return [by_uuid[u] for u in uuids]


# --- data -------------------------------------------------------------------------------------


def year_series(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """525,600 one-minute points over the Paris year 2023: a UPS load (%), daily curve + noise,
    one decimal."""
    rng = np.random.default_rng(seed)
    t = YEAR_START_MS + np.arange(YEAR_MINUTES, dtype=np.int64) * MINUTE_MS
    hour = (t % DAY_MS) / 3_600_000
    load = 40 + 25 * np.sin((hour - 8) / 24 * 2 * np.pi) + rng.normal(0, 3, len(t))
    return t, np.round(load, 1)


def iso_z(t: np.ndarray) -> list[str]:
    """ISO 8601 UTC with Z, seconds (milliseconds when not zero)."""
    text = np.datetime_as_string(t.astype("datetime64[ms]"), unit="ms")
    return [s[:-4] + "Z" if s.endswith(".000") else s + "Z" for s in text.tolist()]


def ingest_body(series: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> bytes:
    """The JSON of one ingestion call: [(mappingConfig, times, values)]."""
    return orjson.dumps(
        {
            "series": [
                {
                    "mappingConfig": mapping,
                    "data": [
                        {"at": a, "value": x} for a, x in zip(iso_z(t), v.tolist(), strict=True)
                    ],
                }
                for mapping, t, v in series
            ]
        }
    )


def load_year_http(api: Api, device: str, mapping: str, t: np.ndarray, v: np.ndarray) -> float:
    """Sends the series in batches of 10,000 points; the seconds it took."""
    bodies = [
        ingest_body([(mapping, t[i : i + BATCH], v[i : i + BATCH])])
        for i in range(0, len(t), BATCH)
    ]
    t0 = time.perf_counter()
    accepted = 0
    for body in bodies:
        accepted += api.ingest(device, body)["accepted"]
    took = time.perf_counter() - t0
    assert accepted == len(t), accepted
    return took


def load_year_direct(url: str, vid: int, t: np.ndarray, v: np.ndarray) -> float:
    """Writes the series with sodata.timeseries.store.write in this process (one transaction)."""
    from sodata.timeseries import store

    t0 = time.perf_counter()
    with session_on(url) as session:
        store.write(session, [store.SeriesPoints(vid, t, v)])
        session.commit()
    return time.perf_counter() - t0


def paris_offsets(start_ms: int, end_ms: int) -> list[tuple[int, int]]:
    """(instant, UTC offset in ms from then on) pieces of Europe/Paris over [start, end), found
    with zoneinfo hour by hour (independent of sodata's calendar code)."""
    tz = ZoneInfo(ZONE)
    pieces: list[tuple[int, int]] = []
    t = datetime.fromtimestamp(start_ms / 1000, UTC)
    end = datetime.fromtimestamp(end_ms / 1000, UTC)
    while t < end:
        offset = int(t.astimezone(tz).utcoffset().total_seconds() * 1000)
        if not pieces or pieces[-1][1] != offset:
            pieces.append((int(t.timestamp() * 1000), offset))
        t += timedelta(hours=1)
    return pieces


def year_query(series: list[dict], take: int = 100_000) -> dict:
    return {
        "from": YEAR_FROM,
        "to": YEAR_TO,
        "timezone": ZONE,
        "useDeviceLocalTimezone": False,
        "granularity": "day",
        "take": take,
        "series": series,
    }


def backends(args: argparse.Namespace) -> list[str]:
    return args.backend or ["sqlite"]


# PostgreSQL's binary COPY rows (variable_id int4, at int8, value float8)
_COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        ("vid_len", ">i4"),
        ("vid", ">i4"),
        ("at_len", ">i4"),
        ("at", ">i8"),
        ("value_len", ">i4"),
        ("value", ">f8"),
    ]
)


def copy_rows(vids: np.ndarray, t: np.ndarray, v: np.ndarray) -> bytes:
    """The rows (variable_id, at, value) as the data of one COPY ... (FORMAT BINARY), built
    column-wise."""
    rows = np.empty(len(t), dtype=_COPY_ROW)
    rows["fields"], rows["vid_len"], rows["at_len"], rows["value_len"] = 3, 4, 8, 8
    rows["vid"], rows["at"], rows["value"] = vids, t, v
    return b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff"


# --- MQTT: a broker of our own, devices in bulk, CPU time of processes ------------------------

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    return _free_port()


class Mosquitto:
    """A Mosquitto broker of our own on a free port of 127.0.0.1 (never the system's), with its
    config file, log and nothing persisted in a temporary directory. `max_inflight_messages 0`
    (else it sends only 20 messages per client before their PUBACKs) and `max_queued_messages
    1000000` (else it drops what a client has not taken past 1,000)."""

    def __init__(self, binary: str = MOSQUITTO) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="sodata-bench-mosquitto-"))
        self.port = free_port()
        self.log_path = self.directory / "mosquitto.log"
        config = self.directory / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_inflight_messages 0\n"
            "max_queued_messages 1000000\n"
            "connection_messages false\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"mosquitto exited ({self.process.returncode}):\n{log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mosquitto does not listen after 10 s") from None
                time.sleep(0.05)
        say(f"mosquitto up on 127.0.0.1:{self.port} (pid {self.process.pid}, dir {self.directory})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def bulk_devices(url: str, site: str, count: int, prefix: str) -> list[tuple[int, str]]:
    """`count` devices of the Masterys type in the site (uuid), ACCEPTED, their profile applied
    (as POST /devices does, without its Logs entry), written with SQLAlchemy in one
    transaction; their (id, serial number), serials `<prefix>-00000`, ..."""
    from sqlalchemy import select

    from sodata.devices.profile import apply_profiles
    from sodata.models import CorporateAccount, Device, DeviceType, Site

    with session_on(url) as session:
        ca = session.scalar(select(CorporateAccount).where(CorporateAccount.uuid == SOLINK))
        place = session.scalar(select(Site).where(Site.uuid == uuid.UUID(site)))
        kind = session.scalar(select(DeviceType).where(DeviceType.uuid == MASTERYS_TYPE))
        assert ca is not None and place is not None and kind is not None
        devices = [
            Device(
                corporate_account_id=ca.id,
                device_type=kind,
                serial_number=f"{prefix}-{i:05d}",
                name=f"{prefix} {i:05d}",
                configuration_key=kind.configuration_key,
                site=place,
                time_zone=place.time_zone,
                status="ACCEPTED",
                creation_type="CREATED",
            )
            for i in range(count)
        ]
        session.add_all(devices)
        session.flush()
        apply_profiles(session, devices)
        session.commit()
        return [(d.id, d.serial_number) for d in devices]


def device_variable_ids(
    url: str, device_ids: Sequence[int], mappings: Sequence[str]
) -> dict[int, list[int]]:
    """The variable ids of each device for the mappingConfigs ("Global|0|140100"), in order."""
    from sqlalchemy import select

    from sodata.models import Item, Service, Variable

    found: dict[tuple[int, str], int] = {}
    with session_on(url) as session:
        rows = session.execute(
            select(Variable.device_id, Item.item_type, Item.index, Service.service_id, Variable.id)
            .join(Item, Variable.item_id == Item.id)
            .join(Service, Variable.service_id == Service.id)
            .where(Variable.device_id.in_(list(device_ids)))
        )
        for device, kind, index, service, vid in rows:
            found[device, f"{kind}|{index}|{service}"] = vid
    return {d: [found[d, m] for m in mappings] for d in device_ids}


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) a process has used so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores; not idle nor iowait)."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK
