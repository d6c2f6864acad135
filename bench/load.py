"""Load: throughput and latency of the server under concurrent clients, measured with wrk.

    python -m bench.load [--backend sqlite|postgresql ...] [--workers N] [--connections 32]
                         [--seconds 10] [--mixed-seconds 60] [--mixed-connections 64]

Needs wrk (Debian/Ubuntu: apt-get install wrk). The server is `sodata serve --demo` on a fresh
database, as in every benchmark here (`--workers N` passed on when given and when `serve`
takes it; otherwise one process). wrk runs on the same machine: it shares the server's cores.

Part 1, one kind of request at a time, `--connections` for `--seconds` each (wrk --latency
--timeout 10s; a fresh access token from the password grant before each run, once the server
answers again after the previous run):
  trivial      GET /realms/sodata (no authentication, no database): the baseline
  ca           GET /api/v1/ca/{ca}
  last values  GET /api/v1/ca/{ca}/devices/{d}/last-values, a device of ours, 42 variables
  devices 50   GET /api/v1/ca/{ca}/devices?take=50 (devices are created if the account has
               fewer than 50)
  year avg     PUT /api/v1/ca/{ca}/datapoints: daily averages (Europe/Paris) of one year of
               one-minute points of one variable (525,600 points, loaded over HTTP first)
  ingest       POST /api/v1/ca/{ca}/devices/{d}/datapoints, 100 points of one variable per
               request, one second apart; each request appends after the previous one of
               its wrk thread (a Lua script builds the bodies)
For each: req/s, p50, p99, answers >= 400 (wrk's "Non-2xx or 3xx responses"), socket errors,
timeouts (wrk counts only the answers that came later than --timeout: a request never
answered is counted nowhere), the longest time without any answer (whole seconds: a stall),
and req/s / trivial req/s of the same run.

Part 2, the mixed load: four wrk processes at once for `--mixed-seconds`, `--mixed-connections`
split evenly: devices take=25, last values, year avg, ingest. The same figures per kind.
Meanwhile the resident memory (VmRSS) of every server process (with --workers: the parent and
its workers) is sampled every second: mean of the first and of the last quarter of the run,
growth in %. Afterwards, once the server answers again, the points stored for the ingested
variable (an HTTP count query, and the database's rows) are compared with the sum of
`accepted` of the 2xx ingestion answers (added up by the Lua script): every acknowledged point
must be stored, and at most 100 more per request without a 2xx answer (those in flight when
wrk stopped, given up on, or failed may or may not have stored theirs).

Targets (meant for `--workers 2` on a 2-core machine): ca >= 1000 req/s and >= 0.5 x trivial;
last values >= 800 req/s; devices 50 >= 400 req/s; year avg >= 300 req/s; each p99 <= 100 ms
(ingest included); mixed load: RSS growth < 10% per process. This benchmark adds, for every
kind of both parts: no errors and no 2 s without an answer.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import orjson

from bench.common import (
    CA,
    ROOT,
    Api,
    Report,
    Server,
    backends,
    ingest_body,
    parser,
    running,
    say,
    variable_ids,
    year_query,
)
from bench.q_agg import setup_year

WRK_TIMEOUT_S = 10
INGEST_POINTS = 100
INGEST_MAPPING = "Global|0|140100"
INGEST_START_S = 1_262_304_000  # 2010-01-01T00:00:00Z: the first point of wrk thread 0
THREAD_SPAN_S = 100_000_000  # each wrk thread writes its own ~3 years (1M requests)
CHECK_FROM, CHECK_TO = "2010-01-01T00:00:00Z", "2030-01-01T00:00:00Z"
DEVICES_NEEDED = 50
P99_MS = 100.0
STALL_S = 2  # this many whole seconds without any answer: a stall
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# --- wrk and its scripts -----------------------------------------------------------------------

# Every script: a thread id for each wrk thread; answers counted by second (the longest time
# without any answer shows a stall: wrk itself counts as timeouts only the answers that came
# later than --timeout, never the requests still unanswered at the end), 2xx answers counted;
# and one line of exact figures at the end (latencies in microseconds; acked: the sum of
# "accepted" of the 2xx ingestion answers; sent: the ingestion requests built, one more than
# sent, as wrk builds one to check the script before it starts).
LUA_COMMON = r"""
local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   ok, acked, answers, started = 0, 0, {}, os.time()
   start_thread()
end

function answered(status)
   local second = os.time()
   answers[second] = (answers[second] or 0) + 1
   if status >= 200 and status < 300 then
      ok = ok + 1
      return true
   end
   return false
end

function done(summary, latency, requests)
   local ok, acked, sent, by_second, first = 0, 0, 0, {}, nil
   for _, t in ipairs(threads) do
      ok = ok + (t:get("ok") or 0)
      acked = acked + (t:get("acked") or 0)
      sent = sent + (t:get("n") or 0)
      for second, n in pairs(t:get("answers") or {}) do
         by_second[second] = (by_second[second] or 0) + n
      end
      local started = t:get("started")
      if started and (first == nil or started < first) then first = started end
   end
   local gap, run = 0, 0  -- the longest run of whole seconds without an answer
   for second = first, first + math.floor(summary.duration / 1e6) - 1 do
      if (by_second[second] or 0) == 0 then
         run = run + 1
         if run > gap then gap = run end
      else
         run = 0
      end
   end
   local e = summary.errors
   io.write(string.format(
      "LOADBENCH requests=%.0f duration_us=%.0f connect=%.0f read=%.0f write=%.0f "
         .. "status=%.0f timeout=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f ok=%.0f acked=%.0f "
         .. "gap_s=%.0f sent=%.0f\n",
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, ok, acked, gap, sent))
end
"""

# One request, always the same (wrk sends it as is).
LUA_STATIC = r"""
wrk.method = "@METHOD@"
@BODY@

function start_thread() end

function response(status, headers, body)
   answered(status)
end
"""

# 100 points of one variable per request, one second apart, from START + tid * SPAN on: every
# request appends after the previous one of its thread. Adds up "accepted" of the 2xx answers.
LUA_INGEST = r"""
local START, SPAN, POINTS = @START@, @SPAN@, @POINTS@
local HEAD = '{"series":[{"mappingConfig":"@MAPPING@","data":['
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function start_thread()
   n = 0
   first_second = START + tid * SPAN
end

function request()
   local t0 = first_second + n * POINTS
   n = n + 1
   local points = {}
   for i = 0, POINTS - 1 do
      local t = t0 + i
      points[i + 1] = '{"at":"' .. os.date("!%Y-%m-%dT%H:%M:%SZ", t) .. '","value":'
         .. (t % 1000) / 10 .. '}'
   end
   return wrk.format(nil, nil, nil, HEAD .. table.concat(points, ",") .. "]}]}")
end

function response(status, headers, body)
   if answered(status) then
      acked = acked + (tonumber(body:match('"accepted":%s*(%d+)')) or 0)
   end
end
"""


@dataclass
class Kind:
    key: str
    method: str
    path: str
    body: bytes | None = None
    auth: bool = True
    ingest: bool = False  # the appending Lua script (path: the device's datapoints)

    @property
    def route(self) -> str:
        """The path with {ca} and {d} (a device) for uuids."""
        return UUID.sub("{d}", self.path.replace(CA, "{ca}"))

    def script(self) -> str:
        if self.ingest:
            lua = (
                LUA_INGEST.replace("@START@", str(INGEST_START_S))
                .replace("@SPAN@", str(THREAD_SPAN_S))
                .replace("@POINTS@", str(INGEST_POINTS))
                .replace("@MAPPING@", INGEST_MAPPING)
            )
        else:
            body = ""
            if self.body is not None:
                text = self.body.decode()
                assert "]==]" not in text
                body = (
                    f'wrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[{text}]==]'
                )
            lua = LUA_STATIC.replace("@METHOD@", self.method).replace("@BODY@", body)
        return LUA_COMMON + lua


@dataclass
class Result:
    requests: int
    seconds: float
    connect: int
    read: int
    write: int
    status: int  # answers >= 400 (wrk's "Non-2xx or 3xx responses")
    timeout: int
    p50: float  # ms
    p99: float
    max: float
    ok: int  # 2xx answers
    acked: int  # the sum of their "accepted" (ingestion)
    gap: int  # the longest time without any answer, in whole seconds
    sent: int  # ingestion requests sent (0 for the others)
    text: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write

    @property
    def errors(self) -> int:
        return self.status + self.socket_errors + self.timeout

    @property
    def healthy(self) -> bool:
        """No errors and no stall."""
        return self.errors == 0 and self.gap < STALL_S

    def summary(self, detail: bool = False) -> str:
        sockets = f"socket errors {self.socket_errors}"
        if detail:
            sockets += f" (connect {self.connect}, read {self.read}, write {self.write})"
        latency = "no answer"
        if self.requests:
            latency = f"p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms, max {self.max:,.0f} ms"
        return (
            f"{self.rps:,.0f} req/s ({self.requests:,} in {self.seconds:.1f} s), {latency}; "
            f"non-2xx {self.status}, {sockets}, timeouts {self.timeout}; "
            f"longest without an answer {self.gap} s"
        )


class Wrk:
    """One wrk process, bounded by its -d and --timeout (and killed if it outlives them)."""

    def __init__(
        self,
        kind: Kind,
        base: str,
        token: str | None,
        connections: int,
        threads: int,
        seconds: int,
        scripts: Path,
    ) -> None:
        self.kind, self.seconds = kind, seconds
        script = scripts / f"{kind.key.replace(' ', '_')}-{uuid.uuid4().hex[:6]}.lua"
        script.write_text(kind.script())
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s"]
        command += ["--timeout", f"{WRK_TIMEOUT_S}s", "--latency", "-s", str(script)]
        if kind.auth and token:
            command += ["-H", f"Authorization: Bearer {token}"]
        command.append(base + kind.path)
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def result(self) -> Result | None:
        try:
            out, _ = self.process.communicate(timeout=self.seconds + WRK_TIMEOUT_S + 60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
            say(f"  [{self.kind.key}] wrk did not stop in time: killed")
        lines = out.splitlines()
        figures = next((line for line in lines if line.startswith("LOADBENCH ")), None)
        text = "\n".join(f"    {line}" for line in lines if not line.startswith("LOADBENCH "))
        if figures is None:
            say(
                f"  [{self.kind.key}] wrk gave no figures (exit {self.process.returncode}):\n{text}"
            )
            return None
        v = {k: float(x) for k, x in (item.split("=") for item in figures.split()[1:])}
        return Result(
            requests=int(v["requests"]),
            seconds=v["duration_us"] / 1e6,
            connect=int(v["connect"]),
            read=int(v["read"]),
            write=int(v["write"]),
            status=int(v["status"]),
            timeout=int(v["timeout"]),
            p50=v["p50_us"] / 1000,
            p99=v["p99_us"] / 1000,
            max=v["max_us"] / 1000,
            ok=int(v["ok"]),
            acked=int(v["acked"]),
            gap=int(v["gap_s"]),
            sent=max(0, int(v["sent"]) - 1),  # wrk builds one request to check the script
            text=text,
        )


def ready(base: str, pause: float = 2.0, limit: float = 180.0) -> str:
    """A fresh access token (the password grant, as the demo's admin), once the server answers
    it and an authenticated read (GET /api/v1/ca/{ca}) again: waits `pause` first, then as long
    as the previous run's backlog keeps it busy (at most `limit` seconds)."""
    time.sleep(pause)
    deadline = time.monotonic() + limit
    problem = ""
    while time.monotonic() < deadline:
        try:
            api = Api(base, timeout=30)
            try:
                api.call("GET", f"/api/v1/ca/{CA}")
                return api.token
            finally:
                api.close()
        except (httpx.HTTPError, RuntimeError) as exc:
            problem = repr(exc)[:300]
        time.sleep(1)
    raise RuntimeError(f"the server has not answered for {limit:.0f} s: {problem}")


# --- memory of the server's processes ------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live process, from /proc/<pid>/stat
    (None for a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else (int(fields[1]), int(fields[19]))


def process_tree(root: int) -> list[int]:
    """`root` and its descendants (uvicorn with --workers: the parent and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def describe(pid: int, root: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        command = ""
    if pid == root:
        return f"main process {pid}"
    if "resource_tracker" in command:
        return f"resource tracker {pid}"
    return f"worker {pid}"


class RssSampler(threading.Thread):
    """VmRSS of every process of the server's tree, every `every` seconds."""

    def __init__(self, root: int, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.root, self.every = root, every
        self.samples: dict[int, list[tuple[float, int]]] = {}
        self.labels: dict[int, str] = {}
        self.started_at: dict[int, int] = {}  # pid: start time (to recognize it later)
        self._halt = threading.Event()
        self.t0 = time.monotonic()

    def run(self) -> None:
        while True:
            now = time.monotonic() - self.t0
            for pid in process_tree(self.root):
                kib = rss_kib(pid)
                if kib is None:
                    continue
                if pid not in self.labels:
                    self.labels[pid] = describe(pid, self.root)
                    stat = _stat(pid)
                    if stat is not None:
                        self.started_at[pid] = stat[1]
                self.samples.setdefault(pid, []).append((now, kib))
            if self._halt.wait(self.every):
                return

    def stop(self) -> float:
        self._halt.set()
        self.join()
        return time.monotonic() - self.t0

    def quarters(self, duration: float) -> list[tuple[str, float, float, int]]:
        """(label, mean RSS of the first quarter, of the last quarter (MiB), samples)."""
        rows = []
        for pid, samples in self.samples.items():
            first = [k for t, k in samples if t <= duration / 4]
            last = [k for t, k in samples if t >= duration * 3 / 4]
            if first and last:
                rows.append(
                    (
                        self.labels[pid],
                        float(np.mean(first)) / 1024,
                        float(np.mean(last)) / 1024,
                        len(samples),
                    )
                )
        return rows

    def leftovers(self, grace: float = 10.0) -> None:
        """Kills the processes of the server's tree still alive `grace` seconds after it
        stopped (same pid and start time: the ones it started)."""

        def alive() -> list[int]:
            return [
                pid
                for pid, started in self.started_at.items()
                if (stat := _stat(pid)) is not None and stat[1] == started
            ]

        deadline = time.monotonic() + grace
        while alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid in alive():
            say(f"  {self.labels[pid]} still alive {grace:.0f} s after the server stopped: killed")
            try:
                os.kill(pid, 9)
            except OSError:
                pass


# --- the server's log ---------------------------------------------------------------------------


def log_summary(path: Path, top: int = 8) -> None:
    """What went wrong in the server's log: exceptions (the last line of each traceback) and
    lines with ERROR / WARNING, counted."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return
    exceptions: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
            continue
        if in_traceback and line and not line[0].isspace():
            exceptions[line[:200]] += 1
            in_traceback = False
        for level in ("ERROR", "WARNING", "CRITICAL"):
            if level in line:
                levels[level] += 1
    say(
        f"  server log {path}: {len(lines):,} lines, "
        + (", ".join(f"{n:,} {level}" for level, n in levels.items()) or "no ERROR/WARNING")
        + f", {sum(exceptions.values()):,} tracebacks"
    )
    for text, n in exceptions.most_common(top):
        say(f"    {n:6,} x {text}")


# --- setup -----------------------------------------------------------------------------------


@dataclass
class Setup:
    year_device: str
    year_mapping: str
    lv_device: str
    ingest_devices: list[str] = field(default_factory=list)


def prepare(url: str, server: Server) -> Setup:
    api = server.client()
    try:
        t0 = time.perf_counter()
        year_device, year_mapping, _ = setup_year(url, api, "http")
        site = api.site()
        lv_device = api.device(site)
        variables = api.variables(lv_device)
        now_ms = int(time.time() * 1000) // 60_000 * 60_000
        t = now_ms - np.arange(10, 0, -1, dtype=np.int64) * 60_000
        rng = np.random.default_rng(7)
        api.ingest(
            lv_device,
            ingest_body(
                [
                    (v["mappingConfig"], t, np.round(rng.uniform(0, 100, len(t)), 1))
                    for v in variables
                ]
            ),
        )
        say(f"  last values device: {len(variables)} variables, 10 points each")
        setup = Setup(year_device, year_mapping, lv_device)
        setup.ingest_devices = [api.device(site), api.device(site)]  # part 1, mixed
        total = api.call("GET", f"/api/v1/ca/{CA}/devices?take=1")["total"]
        for _ in range(DEVICES_NEEDED - total):
            api.device(site)
        total = api.call("GET", f"/api/v1/ca/{CA}/devices?take=1")["total"]
        say(f"  {total} devices in the account; set up in {time.perf_counter() - t0:.0f} s")
        return setup
    finally:
        api.close()


def kinds(setup: Setup) -> dict[str, Kind]:
    ca = f"/api/v1/ca/{CA}"
    year = orjson.dumps(
        year_query(
            [
                {
                    "deviceUuid": setup.year_device,
                    "mappingConfig": setup.year_mapping,
                    "aggregation": "avg",
                }
            ]
        )
    )
    return {
        "trivial": Kind("trivial", "GET", "/realms/sodata", auth=False),
        "ca": Kind("ca", "GET", ca),
        "last values": Kind("last values", "GET", f"{ca}/devices/{setup.lv_device}/last-values"),
        "devices 50": Kind("devices 50", "GET", f"{ca}/devices?take=50"),
        "devices 25": Kind("devices 25", "GET", f"{ca}/devices?take=25"),
        "year avg": Kind("year avg", "PUT", f"{ca}/datapoints", body=year),
        "ingest": Kind(
            "ingest", "POST", f"{ca}/devices/{setup.ingest_devices[0]}/datapoints", ingest=True
        ),
        "ingest mixed": Kind(
            "ingest", "POST", f"{ca}/devices/{setup.ingest_devices[1]}/datapoints", ingest=True
        ),
    }


def check(base: str, token: str, kind: Kind) -> str:
    """One request of the kind with httpx (the ingestion: a batch of 2009, before the times
    wrk sends); what it answered, in short. Raises if it is not a 2xx."""
    headers = {"Authorization": f"Bearer {token}"} if kind.auth else {}
    content = kind.body
    if kind.ingest:
        t = datetime(2009, 1, 1, tzinfo=UTC).timestamp() * 1000 + np.arange(INGEST_POINTS) * 1000
        content = ingest_body([(INGEST_MAPPING, t.astype(np.int64), np.ones(INGEST_POINTS))])
    if content is not None:
        headers["Content-Type"] = "application/json"
    r = httpx.request(kind.method, base + kind.path, content=content, headers=headers, timeout=120)
    if r.status_code >= 300:
        raise RuntimeError(f"{kind.method} {kind.path}: {r.status_code} {r.text[:300]}")
    answer = r.json()
    if kind.ingest:
        return f"accepted {answer['accepted']}"
    if "results" in answer:
        return f"{len(answer['results'])} devices"
    if "devices" in answer:
        return f"{sum(len(d['values']) for d in answer['devices'])} values"
    if "series" in answer:
        return f"{len(answer['series'][0]['data'])} buckets"
    return f"{len(r.content):,} bytes"


# --- the two parts ---------------------------------------------------------------------------

TARGETS = {  # kind: (req/s, ratio to trivial)
    "ca": (1000, 0.5),
    "last values": (800, None),
    "devices 50": (400, None),
    "year avg": (300, None),
    "ingest": (None, None),
}


def single(
    args: argparse.Namespace,
    server: Server,
    all_kinds: dict[str, Kind],
    label: str,
    report: Report,
    scripts: Path,
) -> float | None:
    """Part 1; the trivial request's req/s."""
    say(f"\n-- part 1: one kind at a time, {args.connections} connections, {args.seconds} s each")
    threads = max(1, min(os.cpu_count() or 1, args.connections))
    trivial = None
    for key in ("trivial", "ca", "last values", "devices 50", "year avg", "ingest"):
        kind = all_kinds[key]
        if server.process.poll() is not None:
            say(f"  the server has exited ({server.process.returncode}): stopping part 1")
            break
        try:
            token = ready(server.base)
            say(f"  [{key}] {kind.method} {kind.path}: check {check(server.base, token, kind)}")
        except (RuntimeError, httpx.HTTPError) as exc:
            say(f"  [{key}] skipped: {exc}")
            continue
        wrk = Wrk(kind, server.base, token, args.connections, threads, args.seconds, scripts)
        result = wrk.result()
        if result is None:
            continue
        say(result.text)
        say(f"  [{key}] {result.summary(detail=True)}")
        if key == "trivial":
            trivial = result.rps
            report.add(
                f"Load {key}: {kind.method} {kind.route}",
                label,
                result.summary(),
                "-",
                "1",
                "baseline",
                None,
            )
            continue
        ratio = result.rps / trivial if trivial else float("nan")
        rps_target, ratio_target = TARGETS[key]
        met = result.requests > 0 and result.p99 <= P99_MS and result.healthy
        target = []
        if rps_target:
            target.append(f">= {rps_target} req/s")
            met = met and result.rps >= rps_target
        if ratio_target:
            target.append(f">= {ratio_target} x trivial")
            met = met and ratio >= ratio_target
        target += [f"p99 <= {P99_MS:.0f} ms", "no errors", f"no {STALL_S} s without an answer"]
        measured = result.summary()
        if kind.ingest:
            measured += (
                f"; {result.acked / result.seconds:,.0f} points/s acknowledged "
                f"({result.ok:,} 2xx answers)"
            )
        report.add(
            f"Load {key}: {kind.method} {kind.route}",
            label,
            measured,
            f"trivial {trivial:,.0f} req/s" if trivial else "-",
            f"{ratio:.2f}",
            ", ".join(target),
            met,
        )
    return trivial


def stored_points(url: str, base: str, device: str) -> tuple[int, int]:
    """Points of the mixed load's ingested variable from 2010 on: (HTTP count query, the
    database's rows)."""
    token = ready(base, pause=0)
    body = {
        "from": CHECK_FROM,
        "to": CHECK_TO,
        "timezone": "UTC",
        "useDeviceLocalTimezone": False,
        "granularity": "year",
        "take": 100,
        "series": [{"deviceUuid": device, "mappingConfig": INGEST_MAPPING, "aggregation": "count"}],
    }
    r = httpx.put(
        f"{base}/api/v1/ca/{CA}/datapoints",
        content=orjson.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=120,
    )
    r.raise_for_status()
    http = int(sum(p["value"] or 0 for p in r.json()["series"][0]["data"]))
    return http, database_points(url, base, device)


def database_points(url: str, base: str, device: str) -> int:
    from bench.common import connect

    api = Api(base, timeout=60)
    try:
        variable = next(v for v in api.variables(device) if v["mappingConfig"] == INGEST_MAPPING)
    finally:
        api.close()
    vid = variable_ids(url, [variable["uuid"]])[0]
    start = int(datetime.fromisoformat(CHECK_FROM).timestamp() * 1000)
    end = int(datetime.fromisoformat(CHECK_TO).timestamp() * 1000)
    conn = connect(url)
    try:
        mark = "?" if url.startswith("sqlite") else "%s"
        cur = conn.cursor()
        cur.execute(
            f"SELECT count(*) FROM datapoints WHERE variable_id = {mark} AND at >= {mark} "
            f"AND at < {mark}",
            (vid, start, end),
        )
        return int(cur.fetchone()[0])
    finally:
        conn.close()


def mixed(
    args: argparse.Namespace,
    url: str,
    server: Server,
    all_kinds: dict[str, Kind],
    label: str,
    trivial: float | None,
    report: Report,
    scripts: Path,
) -> RssSampler | None:
    keys = ("devices 25", "last values", "year avg", "ingest mixed")
    per = max(1, args.mixed_connections // len(keys))
    say(
        f"\n-- part 2: mixed load, {args.mixed_seconds} s, {per} connections each for "
        + ", ".join(all_kinds[k].key for k in keys)
    )
    try:
        token = ready(server.base)
        for key in keys:
            answer = check(server.base, token, all_kinds[key])
            say(f"  [{key}] {all_kinds[key].method} {all_kinds[key].path}: check {answer}")
    except (RuntimeError, httpx.HTTPError) as exc:
        say(f"  mixed load skipped: {exc}")
        return None
    sampler = RssSampler(server.process.pid)
    sampler.start()
    runs = [
        Wrk(all_kinds[k], server.base, token, per, 1, args.mixed_seconds, scripts) for k in keys
    ]
    results = {k: run.result() for k, run in zip(keys, runs, strict=True)}
    duration = sampler.stop()
    for key, result in results.items():
        kind = all_kinds[key]
        if result is None:
            continue
        say(f"  [{kind.key}]\n{result.text}")
        say(f"  [{kind.key}] {result.summary(detail=True)}")
        ratio = f"{result.rps / trivial:.3f}" if trivial else "-"
        measured = result.summary()
        if kind.ingest:
            measured += f"; {result.acked:,} points acknowledged ({result.ok:,} 2xx)"
        report.add(
            f"Mixed {kind.key}: {kind.method} {kind.route} ({per} connections)",
            label,
            measured,
            f"trivial {trivial:,.0f} req/s (part 1)" if trivial else "-",
            ratio,
            f"no errors, no {STALL_S} s without an answer",
            result.healthy,
        )
    say(f"  RSS of the server's processes over {duration:.0f} s (first quarter -> last quarter):")
    for name, first, last, n in sampler.quarters(duration):
        growth = (last - first) / first * 100
        say(f"    {name}: {first:.1f} MiB -> {last:.1f} MiB ({growth:+.1f}%, {n} samples)")
        report.add(
            f"Mixed RSS {name}",
            label,
            f"last quarter {last:.1f} MiB (mean)",
            f"first quarter {first:.1f} MiB",
            f"{growth:+.1f}%",
            "< 10% growth",
            growth < 10,
        )
    ingest = results["ingest mixed"]
    if ingest is not None and server.process.poll() is None:
        device = all_kinds["ingest mixed"].path.split("/devices/")[1].split("/")[0]
        try:
            http, rows = wait_stored(url, server.base, device)
            # Requests without a 2xx answer (in flight when wrk stopped, given up on, or
            # failed) may or may not have stored their points.
            unanswered = max(0, ingest.sent - ingest.ok)
            most = ingest.acked + unanswered * INGEST_POINTS
            met = http == rows and ingest.acked <= rows <= most
            say(
                f"  ingested variable: {http:,} points (HTTP count), {rows:,} rows (database); "
                f"acknowledged by {ingest.ok:,} 2xx answers: {ingest.acked:,}; "
                f"{unanswered:,} of {ingest.sent:,} requests without a 2xx answer "
                f"(at most {unanswered * INGEST_POINTS:,} more points)"
            )
            report.add(
                "Mixed ingestion: points stored",
                label,
                f"stored {http:,} (HTTP count), {rows:,} (database rows); "
                f"{unanswered:,} of {ingest.sent:,} requests without a 2xx answer",
                f"acknowledged {ingest.acked:,}",
                f"{rows - ingest.acked:+,}",
                f"HTTP = database, acknowledged <= stored <= acknowledged + {INGEST_POINTS} x "
                "requests without a 2xx answer",
                met,
            )
        except (httpx.HTTPError, RuntimeError, StopIteration) as exc:
            say(f"  stored points not checked: {exc!r}")
    return sampler


def wait_stored(url: str, base: str, device: str, limit: float = 120) -> tuple[int, int]:
    """The stored counts once the database's count has not moved for 3 s (the server finishing
    requests whose clients are gone)."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        ready(base, pause=3.0)
        now = database_points(url, base, device)
        if now == last:
            break
        last = now
    return stored_points(url, base, device)


# --- main ------------------------------------------------------------------------------------


def serve_takes_workers() -> bool:
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        [sys.executable, "-m", "sodata", "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    return "--workers" in out.stdout + out.stderr


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--workers", type=int, default=None, help="`sodata serve --workers N`")
    p.add_argument("--connections", type=int, default=32, help="part 1: wrk connections")
    p.add_argument("--seconds", type=int, default=10, help="part 1: seconds per request kind")
    p.add_argument(
        "--mixed-seconds", type=int, default=60, help="part 2: seconds (the issue's: 600)"
    )
    p.add_argument("--mixed-connections", type=int, default=64, help="part 2: wrk connections")
    p.add_argument("--only", choices=["single", "mixed"], help="run one part only")
    return p


def run(args: argparse.Namespace, report: Report) -> None:
    if shutil.which("wrk") is None:
        say("bench.load needs wrk, the HTTP benchmarking tool: apt-get install wrk")
        sys.exit(2)
    import sodata

    say(f"sodata from {Path(sodata.__file__).parent}")
    workers = args.workers
    if workers is not None and not serve_takes_workers():
        say(f"`sodata serve` does not take --workers yet: running with one process, not {workers}")
        workers = None
    label_workers = f"{workers} workers" if workers else "1 process"
    for backend in backends(args):
        label = f"{backend}, {label_workers}"
        say(f"\n== Load on {backend} ({label_workers})")
        scripts = Path(tempfile.mkdtemp(prefix="sodata-load-"))
        sampler = None
        try:
            with running(backend, args.workdir, args.keep, args.plain_server, workers) as (
                url,
                server,
            ):
                setup = prepare(url, server)
                all_kinds = kinds(setup)
                trivial = None
                if args.only != "mixed":
                    trivial = single(args, server, all_kinds, label, report, scripts)
                if args.only != "single":
                    sampler = mixed(args, url, server, all_kinds, label, trivial, report, scripts)
                log = server.log_path
            log_summary(log)
        finally:
            if sampler is not None:
                sampler.leftovers()
            shutil.rmtree(scripts, ignore_errors=True)


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
