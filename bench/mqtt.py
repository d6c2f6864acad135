"""MQTT: ingestion through `sodata mqtt` (issue 12), QoS 1, acknowledged after the commit.

    python -m bench.mqtt [--backend sqlite|postgresql ...] [--devices 1000] [--messages 30]
                         [--workers 2] [--rate 0] [--publishers 1] [--inflight 20] [--sample 50]

Setup, per backend: a fresh database with `sodata serve --demo` on it (as every benchmark
here), a customer and site of our own (API), --devices devices of the Masterys type (ACCEPTED,
profile applied: ~40 variables each) written with SQLAlchemy in one transaction; a Mosquitto
broker of our own on a free port (max_inflight_messages 0, max_queued_messages 1000000,
anonymous, no persistence, no dynamic security: the workers run with SODATA_MQTT_DYNSEC=false);
`sodata mqtt --workers N` on the database (each worker: a persistent MQTT 5 session in the
shared subscription, up to mqtt_batch_size messages a commit, PUBACK to the broker only after
the commit).

Load: --publishers processes (multiprocessing), each holding a TCP connection per simulated
device with a minimal MQTT 5 client on asyncio (raw packets: paho publishes ~3,300 messages/s
here). Each device publishes --messages messages to
sodata/v1/{ca}/devices/{serial}/datapoints, QoS 1, each a body of
POST .../devices/{d}/datapoints with 3 series (Global|0|140100..140102) of one point, one
message every 10 s of device time (2024), values with one decimal. Every PUBLISH packet is
encoded before the clock starts; a connection keeps at most --inflight messages not yet
acknowledged by the broker (which acknowledges on receipt). --rate 0 (default): every device
sends as fast as that window allows (the broker takes the whole run in a few seconds and the
workers drain it: their top rate); --rate R: R messages/s in all, the devices in turn, evenly
spread (a steady load: the latencies of a rate the workers sustain). One message in --sample
(per device, staggered) carries a Response Topic (sodata/v1/{ca}/devices/{serial}/answers/bench)
and a Correlation Data: a subscriber of ours (a raw MQTT 5 connection in this process) takes
the answers, which a worker publishes right after its commit, each just before its PUBACK.
Before the clock: each device publishes one warm-up message (another time) asking for an
answer, and the run waits for all of them (the workers are subscribed, their caches of
devices and variables filled as in a steady state; they last mqtt_cache_seconds, 10 s); then
a checkpoint of the database (the setup's writes, the demo's points among them, are flushed
before the clock: the run pays for its own writes only).

Measured (the clock starts when the publishers start writing):
- points/s end to end: all the points of the run (devices x messages x 3) in the database
  (count(*) of the datapoints of our variables), polled every 100 ms (first the 3 points of
  each device's last message, 3,000 index lookups; once there, the full count);
- commit -> ack p50/p99: the bound of the bucket that holds them in the workers' histogram
  sodata_mqtt_commit_to_ack_seconds (from their /metrics, before and after the run: one
  observation per batch, from its commit to its PUBACKs handed to the connection);
- publish -> answer p50/p99 over the sampled messages (the rest is the time queued at the
  broker and in the worker, and the transaction);
- publish -> broker PUBACK p50/p99 (sampled), and the publishers' own rate (messages over the
  time to their last broker PUBACK);
- CPU used during the run by the publishers, the broker, the workers, the database's server
  processes (PostgreSQL), this process (answers, polling) and the rest of the machine, in %
  of one core;
- the workers' log: anything but the usual lines, tracebacks.
Checked: every answer 200 with no rejected point, every broker PUBACK a success (0x10, no
matching subscribers, would mean dropped messages), the database count exact.
--samples FILE writes each sampled message's times (CSV) for a closer look.

Baseline (same run, same database): the same rows (variable_id, at, value) written into a
scratch table shaped like datapoints (primary key (variable_id, at), WITHOUT ROWID on SQLite),
in transactions of one worker flush (mqtt_batch_size messages x 3 rows), committed, in message
order: executemany on SQLite (synchronous=FULL, as the server), binary COPY on PostgreSQL.

Target (issue 12): 1,000 devices, 3 points a message, QoS 1, 2 workers: >= 45,000 points/s
acknowledged after commit, on each backend (judged on unpaced runs; a paced run reports its
latencies); commit-to-ack p99 reported. Quick defaults (30 messages per device: 90,000
points); the issue's steady state wants a run of some 10+ s: --messages 200 (600,000 points),
or --rate 15000 --messages 200 (the target's rate, paced, 13 s).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from bench.common import (
    CA,
    MOSQUITTO,
    ROOT,
    Mosquitto,
    Report,
    backends,
    bulk_devices,
    checkpoint,
    child_pids,
    connect,
    cpu_seconds,
    device_variable_ids,
    free_port,
    machine_busy_seconds,
    parser,
    percentile,
    running,
    say,
)
from bench.ingest import append_baseline
from sodata.config import Settings

SERIES = ("Global|0|140100", "Global|0|140101", "Global|0|140102")
START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z: the warm-up messages; then every 10 s
PERIOD_MS = 10_000
TARGET = 45_000  # points/s
POLL_SECONDS = 0.1
STALL_SECONDS = 60.0  # no point stored for this long: give up
PROGRESS_SECONDS = 5.0  # the full count (and a line of progress) this often
WARMUP_PID = 0xFFFF  # the warm-up message's packet id (the run's: 1..65534)
DEFAULT_BATCH = Settings.model_fields["mqtt_batch_size"].default  # the workers' default

# --- MQTT 5, the little of it we need ---------------------------------------------------------

CONNACK, PUBLISH, PUBACK, SUBACK = 2, 3, 4, 9
# property identifier -> how its value is encoded (MQTT 5, 2.2.2.2)
_PROPERTY_KIND = {
    **dict.fromkeys((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A), "byte"),
    **dict.fromkeys((0x13, 0x21, 0x22, 0x23), "int2"),
    **dict.fromkeys((0x02, 0x11, 0x18, 0x27), "int4"),
    0x0B: "varint",
    **dict.fromkeys((0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F), "str"),
    **dict.fromkeys((0x09, 0x16), "bin"),
    0x26: "pair",
}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = n >> 7, n & 0x7F
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None if the buffer ends first."""
    value, shift = 0, 0
    while pos < len(buf):
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7
    return None


def _text(s: str | bytes) -> bytes:
    data = s.encode() if isinstance(s, str) else s
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def connect_packet(client_id: str) -> bytes:
    """CONNECT, MQTT 5, clean start, no keep alive (nothing to send while idle), anonymous."""
    return _packet(0x10, _text("MQTT") + b"\x05\x02\x00\x00" + b"\x00" + _text(client_id))


def publish_packet(
    topic: str,
    pid: int,
    payload: bytes,
    response_topic: str | None = None,
    correlation: bytes | None = None,
) -> bytes:
    """PUBLISH, QoS 1."""
    props = b""
    if response_topic is not None:
        props += b"\x08" + _text(response_topic)
    if correlation is not None:
        props += b"\x09" + _text(correlation)
    body = _text(topic) + pid.to_bytes(2, "big") + _varint(len(props)) + props + payload
    return _packet(0x32, body)


def subscribe_packet(pid: int, topic_filter: str, qos: int = 0) -> bytes:
    return _packet(0x82, pid.to_bytes(2, "big") + b"\x00" + _text(topic_filter) + bytes([qos]))


DISCONNECT = b"\xe0\x00"


def packets(buf: bytes) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """The whole packets at the start of `buf` as (type, flags, body), and the rest."""
    found, pos = [], 0
    while pos + 2 <= len(buf):
        length = _read_varint(buf, pos + 1)
        if length is None or length[1] + length[0] > len(buf):
            break
        size, start = length
        found.append((buf[pos] >> 4, buf[pos] & 0x0F, buf[start : start + size]))
        pos = start + size
    return found, buf[pos:]


def properties(body: bytes, pos: int) -> tuple[dict[int, Any], int]:
    """The properties at `pos` (id -> value; user properties: a list of pairs) and the position
    after them."""
    length, pos = _read_varint(body, pos)  # type: ignore[misc]
    end, found = pos + length, {}
    while pos < end:
        ident = body[pos]
        pos += 1
        kind = _PROPERTY_KIND[ident]
        if kind == "byte":
            value, pos = body[pos], pos + 1
        elif kind == "int2":
            value, pos = int.from_bytes(body[pos : pos + 2], "big"), pos + 2
        elif kind == "int4":
            value, pos = int.from_bytes(body[pos : pos + 4], "big"), pos + 4
        elif kind == "varint":
            value, pos = _read_varint(body, pos)  # type: ignore[misc]
        elif kind == "pair":
            n = int.from_bytes(body[pos : pos + 2], "big")
            key, pos = body[pos + 2 : pos + 2 + n].decode(), pos + 2 + n
            n = int.from_bytes(body[pos : pos + 2], "big")
            value, pos = (key, body[pos + 2 : pos + 2 + n].decode()), pos + 2 + n
            found.setdefault(ident, []).append(value)
            continue
        else:
            n = int.from_bytes(body[pos : pos + 2], "big")
            value, pos = body[pos + 2 : pos + 2 + n], pos + 2 + n
            if kind == "str":
                value = value.decode()
        found[ident] = value
    return found, end


def correlation(device: int, seq: int) -> bytes:
    return struct.pack(">Ii", device, seq)


# --- the messages -----------------------------------------------------------------------------


def datapoints_topic(serial: str) -> str:
    return f"sodata/v1/{CA}/devices/{serial}/datapoints"


def answers_topic(serial: str) -> str:
    return f"sodata/v1/{CA}/devices/{serial}/answers/bench"


def at_ms(seq: int) -> int:
    """The time of the points of message `seq` (-1: the warm-up)."""
    return START_MS + (seq + 1) * PERIOD_MS


def device_values(device: int, messages: int) -> np.ndarray:
    """The values of a device's messages, (messages, 3), one decimal."""
    rng = np.random.default_rng(1_000_003 + device)
    return np.round(rng.normal(50, 10, (messages, len(SERIES))), 1)


_BODY = (
    '{"series":['
    + ",".join(
        f'{{"mappingConfig":"{m}","data":[{{"at":"%(at)s","value":%(v{k})s}}]}}'
        for k, m in enumerate(SERIES)
    )
    + "]}"
)


def body(seq: int, values: Sequence[float]) -> bytes:
    at = np.datetime64(at_ms(seq), "ms").astype(str)
    at = at[:-4] + "Z" if at.endswith(".000") else at + "Z"
    return (_BODY % {"at": at, **{f"v{k}": repr(float(v)) for k, v in enumerate(values)}}).encode()


def sampled(device: int, seq: int, sample: int) -> bool:
    """Whether the message asks for an answer: one in `sample`, staggered across devices."""
    return seq % sample == device % sample


# --- the publishers ---------------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One simulated device: its whole run of PUBLISH packets, sent with at most `window` not
    acknowledged by the broker."""

    def __init__(
        self, device: int, serial: str, messages: int, sample: int, window: int, warmup: bytes
    ) -> None:
        self.device, self.sample, self.window = device, sample, window
        topic = datapoints_topic(serial)
        values = device_values(device, messages)
        chunks = []
        for seq in range(messages):
            extra = {}
            if sampled(device, seq, sample):
                extra = {
                    "response_topic": answers_topic(serial),
                    "correlation": correlation(device, seq),
                }
            chunks.append(publish_packet(topic, seq % 65534 + 1, body(seq, values[seq]), **extra))
        self.ends = np.cumsum([0] + [len(c) for c in chunks]).tolist()
        self.stream = memoryview(b"".join(chunks))
        self.n = messages
        self.warmup = warmup
        self.client_id = f"bench-device-{device}-{uuid.uuid4().hex[:6]}"
        self.sent = self.acked = 0
        self.due = 0  # messages it may have sent by now (paced), or all of them
        self.sent_at: dict[int, float] = {}  # sampled seq -> when written
        self.acked_at: dict[int, float] = {}  # sampled seq -> when the broker acknowledged it
        self.reasons: Counter[int] = Counter()  # PUBACK reason codes other than success
        self.rest = b""
        self.stage = "connect"
        loop = asyncio.get_running_loop()
        self.connected = loop.create_future()
        self.warm = loop.create_future()
        self.done = loop.create_future()
        self.last_ack = 0.0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(connect_packet(self.client_id))

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.connected, self.warm, self.done):
            if not future.done():
                future.set_exception(ConnectionError(f"device {self.device}: connection lost"))

    def data_received(self, data: bytes) -> None:
        if self.rest:
            data = self.rest + data
        n, pos, acks = len(data), 0, 0
        while pos + 4 <= n:
            if data[pos] == 0x40 and data[pos + 1] == 2:  # PUBACK, success (the usual)
                acks += 1
                pos += 4
                continue
            length = _read_varint(data, pos + 1)
            if length is None or length[1] + length[0] > n:
                break
            size, start = length
            kind = data[pos] >> 4
            if kind == PUBACK:
                acks += 1
                if size > 2 and data[start + 2] != 0:
                    self.reasons[data[start + 2]] += 1
            elif kind == CONNACK:
                self._connack(data[start : start + size])
            pos = start + size
        self.rest = data[pos:]
        if acks:
            self._acked(acks)

    def _connack(self, body: bytes) -> None:
        if body[1] != 0:
            self.connected.set_exception(ConnectionError(f"CONNACK reason {body[1]:#x}"))
            return
        props, _ = properties(body, 2)
        self.window = min(self.window, props.get(0x21, 65535))  # the broker's Receive Maximum
        self.stage = "warmup"
        self.connected.set_result(None)

    def _acked(self, acks: int) -> None:
        if self.stage == "warmup":
            self.stage = "ready"
            self.warm.set_result(None)
            return
        now = time.perf_counter()
        first, self.acked = self.acked, self.acked + acks
        self.last_ack = now
        for seq in self._sampled(first, self.acked):
            self.acked_at[seq] = now
        if self.acked >= self.n:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.pump()

    def _sampled(self, i: int, j: int) -> range:
        return range(i + (self.device % self.sample - i) % self.sample, j, self.sample)

    def pump(self) -> None:
        """Send what is due (`due`: all at once, or as paced), within the window."""
        i = self.sent
        j = min(self.due, self.acked + self.window)
        if j <= i:
            return
        self.transport.write(self.stream[self.ends[i] : self.ends[j]])
        self.sent = j
        now = time.perf_counter()
        for seq in self._sampled(i, j):
            self.sent_at[seq] = now


@dataclass
class Load:
    messages: int  # per device
    sample: int
    window: int
    rate: float  # messages/s of this process (0: as fast as the windows allow)


async def _publish(
    port: int, devices: list[tuple[int, str]], load: Load, ready: Any, go: Any
) -> dict:
    loop = asyncio.get_running_loop()
    conns = []
    for device, serial in devices:
        warmup = publish_packet(
            datapoints_topic(serial),
            WARMUP_PID,
            body(-1, [1.0] * len(SERIES)),
            answers_topic(serial),
            correlation(device, -1),
        )
        conns.append(_Connection(device, serial, load.messages, load.sample, load.window, warmup))
    gate = asyncio.Semaphore(50)  # the broker's listen backlog is 100

    async def open_one(c: _Connection) -> None:
        async with gate:
            await loop.create_connection(lambda: c, "127.0.0.1", port)
            await asyncio.wait_for(c.connected, 30)

    await asyncio.gather(*(open_one(c) for c in conns))
    for c in conns:
        c.transport.write(c.warmup)
    await asyncio.wait_for(asyncio.gather(*(c.warm for c in conns)), 60)
    ready.put(("ready", os.getpid()))
    await loop.run_in_executor(None, go.wait)
    cpu0, t0 = time.process_time(), time.perf_counter()
    if load.rate <= 0:
        for c in conns:
            c.due = c.n
            c.pump()
    else:  # message m of the process: device m % len(conns), evenly spread in time
        total, given = load.messages * len(conns), 0
        while given < total:
            await asyncio.sleep(0.005)
            due = min(total, int((time.perf_counter() - t0) * load.rate) + 1)
            touched = set()
            for m in range(given, due):
                c = conns[m % len(conns)]
                c.due += 1
                touched.add(c)
            given = due
            for c in touched:
                c.pump()
    await asyncio.gather(*(c.done for c in conns))
    took_cpu = time.process_time() - cpu0
    result = {
        "start": t0,
        "end": max(c.last_ack for c in conns),
        "cpu": took_cpu,
        "messages": sum(c.n for c in conns),
        "sent": {(c.device, s): t for c in conns for s, t in c.sent_at.items()},
        "acked": {(c.device, s): t for c in conns for s, t in c.acked_at.items()},
        "reasons": sum((c.reasons for c in conns), Counter()),
    }
    for c in conns:
        c.transport.write(DISCONNECT)
        c.transport.close()
    return result


def publisher(port: int, devices: list[tuple[int, str]], load: Load, ready: Any, go: Any) -> None:
    """A load process: its devices' connections, then their messages once `go` is set."""
    try:
        result = asyncio.run(_publish(port, devices, load, ready, go))
        ready.put(("result", result))
    except BaseException as exc:  # noqa: BLE001 - told to the parent
        ready.put(("error", f"{type(exc).__name__}: {exc}"))


# --- the answers ------------------------------------------------------------------------------


class Answers(threading.Thread):
    """A subscriber to every device's answers/bench topic (QoS 0): when each came."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True, name="bench-answers")
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(f"bench-answers-{uuid.uuid4().hex[:6]}"))
        self.rest = b""
        self._expect(CONNACK)
        self.sock.sendall(subscribe_packet(1, f"sodata/v1/{CA}/devices/+/answers/bench"))
        self._expect(SUBACK)
        self.came: dict[tuple[int, int], float] = {}
        self.bad: list[tuple[tuple[int, int], str, bytes]] = []  # not 200 or points rejected
        self.start()

    def _expect(self, kind: int) -> None:
        while True:
            found, self.rest = packets(self.rest + self.sock.recv(65536))
            for k, _, _body in found:
                if k == kind:
                    return

    def run(self) -> None:
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                return
            if not data:
                return
            now = time.perf_counter()
            found, self.rest = packets(self.rest + data)
            for kind, flags, body in found:
                if kind == PUBLISH:
                    self._answer(flags, body, now)

    def _answer(self, flags: int, body: bytes, now: float) -> None:
        n = int.from_bytes(body[:2], "big")
        pos = 2 + n + (2 if flags & 0x06 else 0)
        props, pos = properties(body, pos)
        device, seq = struct.unpack(">Ii", props[0x09])
        status = dict(props.get(0x26, [])).get("status", "?")
        payload = body[pos:]
        if status != "200" or orjson.loads(payload).get("rejected"):
            self.bad.append(((device, seq), status, payload[:300]))
        self.came.setdefault((device, seq), now)

    def count(self, warmup: bool) -> int:
        return sum(1 for _, seq in list(self.came) if (seq < 0) == warmup)

    def close(self) -> None:
        with suppress(OSError):
            self.sock.sendall(DISCONNECT)
        with suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.join(5)


# --- the workers ------------------------------------------------------------------------------


class Workers:
    """`sodata mqtt --workers N` on the database, until /ready says they are connected."""

    def __init__(self, url: str, port: int, workers: int, batch: int | None, log: Path) -> None:
        self.http = free_port()
        env = {**os.environ, "SODATA_MQTT_CLIENT_ID": f"bench-{uuid.uuid4().hex[:8]}"}
        env.pop("SODATA_MQTT_HOST", None)
        env["SODATA_MQTT_DYNSEC"] = "false"  # our broker: anonymous, no dynamic security plugin
        if batch is not None:
            env["SODATA_MQTT_BATCH_SIZE"] = str(batch)
        args = [sys.executable, "-m", "sodata", "mqtt", "--broker", f"127.0.0.1:{port}"]
        args += ["--workers", str(workers), "--http-port", str(self.http), "--log-level", "info"]
        if url.startswith("sqlite"):
            env.pop("SODATA_DATABASE_URL", None)
            args += ["--db", url.removeprefix("sqlite:///")]
        else:
            env["SODATA_DATABASE_URL"] = url
        self.log_path = log
        self._log = log.open("w")
        self.process = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"sodata mqtt exited:\n{log.read_text()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.http}/ready", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sodata mqtt not ready after 120 s:\n{log.read_text()}")
            time.sleep(0.2)
        self.pids = child_pids(self.process.pid)
        say(f"sodata mqtt: {workers} workers (pids {self.pids}), log {log}")

    def commit_to_ack(self) -> Counter[float]:
        """The workers' sodata_mqtt_commit_to_ack_seconds histogram (one observation per
        batch): its cumulative count by bucket bound (seconds; inf last), from /metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.http}/metrics", timeout=10).text
        counts: Counter[float] = Counter()
        for line in text.splitlines():
            if line.startswith("sodata_mqtt_commit_to_ack_seconds_bucket{"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                counts[float(bound)] += int(float(line.rsplit(" ", 1)[1]))
        return counts

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def troubles(self) -> Counter[str]:
        """The log's lines other than the usual ones (the workers log without levels:
        "<time> sodata.mqtt: <message>"), and tracebacks by their last line."""
        usual = ("connected to the broker (session present", "INFO:", "sodata mqtt:", "Health:")
        found: Counter[str] = Counter()
        lines = self.log_path.read_text(errors="replace").splitlines()
        ends = set()  # the last lines of tracebacks
        for i, line in enumerate(lines):
            text = line.split(": ", 1)[-1] if " sodata." in line else line
            if line.startswith("Traceback"):
                end = next(
                    (k for k in range(i + 1, len(lines)) if not lines[k].startswith(" ")),
                    len(lines) - 1,
                )
                ends.add(end)
                found["Traceback: " + lines[end][:160]] += 1
            elif i in ends or not line.strip() or line.startswith(" "):
                continue
            elif any(u in line for u in usual):
                continue
            else:
                found[text[:160]] += 1
        return found


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Run:
    points: int = 0
    took: float = 0.0  # first publish -> every point in the database
    publish_took: float = 0.0  # first publish -> the broker's last PUBACK
    publish_cpu: float = 0.0
    answers: list[float] = field(default_factory=list)  # publish -> answer, seconds
    batches: Counter[float] = field(default_factory=Counter)  # commit -> ack, cumulative
    pubacks: list[float] = field(default_factory=list)  # publish -> broker PUBACK, seconds
    missing_answers: int = 0
    bad: list = field(default_factory=list)
    reasons: Counter[int] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)  # % of one core over the run
    stored: int = 0


class Poller:
    """Counts of our points in the database, on a connection of its own."""

    def __init__(self, url: str, vids: Sequence[int], last_at: int) -> None:
        self.conn = connect(url)
        if not url.startswith("sqlite"):
            self.conn.autocommit = True
        ids = ",".join(str(int(v)) for v in vids)
        self.params: tuple = ()
        if url.startswith("sqlite"):
            self.all_sql = f"SELECT count(*) FROM datapoints WHERE variable_id IN ({ids})"
            self.last_sql = f"{self.all_sql} AND at = {int(last_at)}"
        else:  # prepared once (an IN list of 3,000 numbers costs its parse and plan every poll)
            self.all_sql = "SELECT count(*) FROM datapoints WHERE variable_id = ANY(%s::int[])"
            self.last_sql = f"{self.all_sql} AND at = {int(last_at)}"
            self.params = ("{" + ids + "}",)

    def backend(self) -> list[int]:
        """PostgreSQL: the pid of this connection's server process."""
        if isinstance(self.conn, sqlite3.Connection):
            return []
        return [int(self.conn.execute("SELECT pg_backend_pid()").fetchone()[0])]

    def last(self) -> int:
        return int(self._execute(self.last_sql).fetchone()[0])

    def all(self) -> int:
        return int(self._execute(self.all_sql).fetchone()[0])

    def _execute(self, sql: str) -> Any:
        if isinstance(self.conn, sqlite3.Connection):
            return self.conn.execute(sql)
        return self.conn.execute(sql, self.params, prepare=True)

    def close(self) -> None:
        self.conn.close()


def pg_backend_pids(url: str) -> list[int]:
    if url.startswith("sqlite"):
        return []
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


def measure(
    args: argparse.Namespace,
    url: str,
    broker: Mosquitto,
    workers: Workers,
    devices: list[tuple[int, str]],
    vids: list[int],
) -> Run:
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Queue(), ctx.Event()
    share = [devices[k :: args.publishers] for k in range(args.publishers)]
    load = Load(args.messages, args.sample, args.inflight, args.rate / args.publishers)
    answers = Answers(broker.port)
    procs = [
        ctx.Process(
            target=publisher,
            args=(broker.port, part, load, ready, go),
            name=f"bench-mqtt-publisher-{k}",
        )
        for k, part in enumerate(share)
    ]
    for p in procs:
        p.start()
    try:
        return _measure(args, url, broker, workers, devices, vids, answers, procs, ready, go)
    finally:
        answers.close()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()


def _take(ready: Any, kind: str, procs: list, timeout: float) -> list:
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < len(procs):
        try:
            what, value = ready.get(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - queue.Empty
            if time.monotonic() > deadline:
                raise RuntimeError(f"publishers: no {kind} after {timeout:.0f} s") from None
            continue
        if what == "error":
            raise RuntimeError(f"a publisher failed: {value}")
        found.append(value)
    return found


def _measure(
    args: argparse.Namespace,
    url: str,
    broker: Mosquitto,
    workers: Workers,
    devices: list[tuple[int, str]],
    vids: list[int],
    answers: Answers,
    procs: list,
    ready: Any,
    go: Any,
) -> Run:
    t0 = time.perf_counter()
    _take(ready, "connections", procs, 600)
    say(
        f"  {len(devices):,} devices connected, encoded and warmed up in {time.perf_counter() - t0:.1f} s"
    )
    deadline = time.monotonic() + 60
    while answers.count(warmup=True) < len(devices):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"warm-up: {answers.count(warmup=True)} answers of {len(devices)} after 60 s"
            )
        time.sleep(0.05)
    say(f"  warm-up answered ({len(devices):,} messages)")
    checkpoint(url)  # the demo database and the devices written out: not during the run
    warm_points = len(vids)
    expected = warm_points + len(devices) * args.messages * len(SERIES)
    roles = {
        "publishers": [p.pid for p in procs],
        "broker": [broker.process.pid],
        "workers": [workers.process.pid, *workers.pids],
        "postgresql": pg_backend_pids(url),  # the workers' connections (and the server's pool)
    }
    poll = Poller(url, vids, at_ms(args.messages - 1))
    roles["bench (answers, polling)"] = [os.getpid(), *poll.backend()]
    cpu0 = {role: sum(map(cpu_seconds, pids)) for role, pids in roles.items()}
    busy0 = machine_busy_seconds()

    acks0 = workers.commit_to_ack()
    started = time.perf_counter()
    go.set()
    done, last_progress, stored = None, started, -1
    next_say = started + PROGRESS_SECONDS
    while done is None:
        time.sleep(max(0.0, POLL_SECONDS - (time.perf_counter() - started) % POLL_SECONDS))
        now = time.perf_counter()
        if poll.last() == len(vids):
            counted = time.perf_counter()  # every point committed before this count began
            if poll.all() == expected:
                done = counted
                break
        if now > next_say:  # the full count now and then: progress, or none for too long
            stored_now = poll.all() - warm_points
            if stored_now != stored:
                stored, last_progress = stored_now, now
            elif now - last_progress > STALL_SECONDS:
                raise RuntimeError(
                    f"no progress for {STALL_SECONDS:.0f} s: {stored:,} points of"
                    f" {expected - warm_points:,} stored"
                )
            answered = answers.count(warmup=False)
            say(f"  {now - started:5.1f} s: {stored:,} points stored, {answered:,} answers")
            next_say += PROGRESS_SECONDS
    busy = machine_busy_seconds() - busy0
    cpu1 = {role: sum(map(cpu_seconds, pids)) for role, pids in roles.items()}
    results = _take(ready, "result", procs, 120)
    first = min(r["start"] for r in results)
    run = Run(points=expected - warm_points, took=done - first)
    run.publish_took = max(r["end"] for r in results) - first
    run.publish_cpu = sum(r["cpu"] for r in results)
    sent = {k: t for r in results for k, t in r["sent"].items()}
    acked = {k: t for r in results for k, t in r["acked"].items()}
    for r in results:
        run.reasons.update(r["reasons"])
    wait_until = time.monotonic() + 30  # answers published after the last commit
    while time.monotonic() < wait_until and answers.count(warmup=False) < len(sent):
        time.sleep(0.05)
    run.batches = workers.commit_to_ack()
    run.batches.subtract(acks0)
    run.answers = [answers.came[k] - t for k, t in sent.items() if k in answers.came]
    run.missing_answers = len(sent) - len(run.answers)
    run.pubacks = [acked[k] - t for k, t in sent.items() if k in acked]
    if args.samples is not None:
        with args.samples.open("w") as out:
            out.write("device,seq,published,broker_puback,answered\n")  # perf_counter seconds
            for (device, seq), t in sorted(sent.items(), key=lambda item: item[1]):
                got = [acked.get((device, seq)), answers.came.get((device, seq))]
                out.write(
                    f"{device},{seq},{t:.6f},{','.join(f'{x:.6f}' if x else '' for x in got)}\n"
                )
        say(f"  sampled messages written to {args.samples}")
    run.bad = answers.bad
    run.stored = poll.all() - warm_points
    poll.close()
    # CPU over the run (go -> every point stored), in % of one core
    span = done - started
    used = {role: 100 * (cpu1[role] - cpu0[role]) / span for role in roles}
    used["rest of the machine"] = 100 * busy / span - sum(used.values())
    run.cpu = used
    return run


def ms(samples: Sequence[float], q: float) -> float:
    return percentile(samples, q) * 1000 if samples else float("nan")


def bucket(cumulative: Counter[float], q: float) -> str:
    """The bound of the histogram bucket holding the q-th percentile ("<= 5 ms")."""
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0
    if not total:
        return "n/a"
    bound = next(b for b in bounds if cumulative[b] >= q / 100 * total)
    return "> 30 s" if bound == float("inf") else f"<= {bound * 1000:g} ms"


def baseline(
    url: str,
    devices: list[tuple[int, str]],
    by_device: dict[int, list[int]],
    args: argparse.Namespace,
) -> tuple[tuple[float, int], str]:
    """The run's rows, in message order, in transactions of one worker flush."""
    rows = []
    values = {d: device_values(k, args.messages) for k, (d, _) in enumerate(devices)}
    for seq in range(args.messages):
        at = at_ms(seq)
        for d, _ in devices:
            rows += [
                (vid, at, float(v)) for vid, v in zip(by_device[d], values[d][seq], strict=True)
            ]
    per = (args.batch_size or DEFAULT_BATCH) * len(SERIES)
    batches = [rows[i : i + per] for i in range(0, len(rows), per)]
    return append_baseline(url, batches)


# --- the benchmark ----------------------------------------------------------------------------


@contextmanager
def worker_processes(
    url: str, port: int, args: argparse.Namespace, backend: str
) -> Iterator[Workers]:
    log = Path(tempfile.gettempdir()) / f"sodata-bench-mqtt-{backend}-{os.getpid()}.log"
    workers = Workers(url, port, args.workers, args.batch_size, log)
    try:
        yield workers
    finally:
        workers.stop()


def one_backend(args: argparse.Namespace, backend: str, report: Report) -> None:
    say(f"\n== MQTT on {backend}")
    with running(backend, args.workdir, args.keep, args.plain_server) as (url, server):
        api = server.client()
        site = api.site()
        api.close()
        t0 = time.perf_counter()
        prefix = f"MQTT-{uuid.uuid4().hex[:6]}"
        made = bulk_devices(url, site, args.devices, prefix)
        by_device = device_variable_ids(url, [d for d, _ in made], SERIES)
        vids = [v for d, _ in made for v in by_device[d]]
        say(f"  {len(made):,} devices created in {time.perf_counter() - t0:.1f} s")
        # the publishers know a device by its index (its values' seed) and serial
        devices = [(k, serial) for k, (_, serial) in enumerate(made)]
        broker = Mosquitto()
        try:
            with worker_processes(url, broker.port, args, backend) as workers:
                run = measure(args, url, broker, workers, devices, vids)
                troubles = workers.troubles()
        finally:
            broker.stop()
        assert run.stored == run.points, f"{run.stored:,} points stored of {run.points:,}"
        base, kind = baseline(url, made, by_device, args)
    rate, base_rate = run.points / run.took, base[1] / base[0]
    messages = run.points // len(SERIES)
    paced = f"paced at {args.rate:,.0f} messages/s" if args.rate > 0 else "unpaced"
    say(
        f"  {run.points:,} points ({messages:,} messages, {paced}) stored in {run.took:.2f} s:"
        f" {rate:,.0f} points/s ({messages / run.took:,.0f} messages/s), the last"
        f" {run.took - run.publish_took:.2f} s after the broker's last PUBACK to the publishers"
    )
    say(
        f"  publishers: {messages / run.publish_took:,.0f} messages/s to the broker's last PUBACK"
        f" ({run.publish_took:.2f} s), {run.publish_cpu:.1f} s CPU;"
        f" publish -> broker PUBACK p50 {ms(run.pubacks, 50):.1f} ms, p99 {ms(run.pubacks, 99):.1f} ms"
    )
    say(
        f"  commit -> ack (the workers' histogram, {run.batches[float('inf')]:,} batches):"
        f" p50 {bucket(run.batches, 50)}, p99 {bucket(run.batches, 99)}"
    )
    say(
        f"  publish -> answer (after commit and PUBACK), {len(run.answers):,} samples:"
        f" p50 {ms(run.answers, 50):.0f} ms, p99 {ms(run.answers, 99):.0f} ms,"
        f" max {ms(run.answers, 100):.0f} ms; missing {run.missing_answers}"
    )
    say(
        "  CPU during the run (% of one core): "
        + ", ".join(f"{k} {v:.0f}%" for k, v in run.cpu.items())
    )
    say(f"  baseline ({kind}): {base_rate:,.0f} rows/s ({base[1]:,} rows in {base[0]:.2f} s)")
    problems = []
    if run.bad:
        problems.append(
            f"{len(run.bad)} answers not 200 or with rejected points, e.g. {run.bad[0]}"
        )
    if run.reasons:
        problems.append(f"broker PUBACK reason codes {dict(run.reasons)}")
    if run.missing_answers:
        problems.append(f"{run.missing_answers} sampled messages never answered")
    if troubles:
        say("  worker log:")
        for line, n in troubles.most_common(10):
            say(f"    {n:6d} x {line}")
    for p in problems:
        say(f"  PROBLEM: {p}")
    report.add(
        f"MQTT {args.devices:,} devices, {args.workers} workers, {paced}",
        backend,
        f"{rate:,.0f} points/s ({run.points:,} in {run.took:.1f} s; commit->ack p99"
        f" {bucket(run.batches, 99)}; publish->answer p50"
        f" {ms(run.answers, 50):.0f} ms, p99 {ms(run.answers, 99):.0f} ms; publishers"
        f" {messages / run.publish_took:,.0f} msg/s)",
        f"{kind} {base_rate:,.0f} rows/s",
        f"{rate / base_rate:.2f}x",
        f">= {TARGET:,} points/s" if args.rate <= 0 else "(paced: latencies)",
        rate >= TARGET and not problems if args.rate <= 0 else (None if not problems else False),
    )


def arguments() -> argparse.ArgumentParser:
    p = parser(__doc__)
    p.add_argument("--devices", type=int, default=1_000, help="simulated devices (connections)")
    p.add_argument("--messages", type=int, default=30, help="messages per device (3 points each)")
    p.add_argument("--workers", type=int, default=2, help="`sodata mqtt --workers N`")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"SODATA_MQTT_BATCH_SIZE for the workers (default: theirs, {DEFAULT_BATCH})",
    )
    p.add_argument("--publishers", type=int, default=1, help="load processes")
    p.add_argument(
        "--inflight", type=int, default=20, help="messages unacknowledged per connection at most"
    )
    p.add_argument("--sample", type=int, default=50, help="one message in N asks for an answer")
    p.add_argument(
        "--samples",
        type=Path,
        default=None,
        help="write the sampled messages' times (CSV: published, broker PUBACK, answered;\n"
        "time.perf_counter() seconds, CLOCK_MONOTONIC) to this file",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=0,
        help="messages/s of all devices together, evenly spread (default 0: as fast as the\n"
        "windows allow, a backlog at once); e.g. 15000: the target's rate, paced",
    )
    return p


def run(args: argparse.Namespace, report: Report) -> None:
    if shutil.which(MOSQUITTO) is None:
        say(f"bench.mqtt needs Mosquitto ({MOSQUITTO}): apt-get install mosquitto")
        sys.exit(2)
    for backend in backends(args):
        one_backend(args, backend, report)


def main() -> None:
    report = Report()
    run(arguments().parse_args(), report)
    report.print()


if __name__ == "__main__":
    main()
