"""MQTT ingestion against a real Mosquitto: each test module starts its own broker (a free
port, dynamic security on, persistence in a temporary folder), the demo server and
`sodata mqtt` workers on the same database, per backend. Without Mosquitto these tests skip
and say why, except with CI=true (.ci/run installs it), where they fail."""

from __future__ import annotations

import getpass
import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from sodata.demo.ids import ADMIN_EMAIL, MASTERYS_GATEWAY, SOLINK
from tests.conftest import BACKENDS, Server, _free_port, client_as, unique

ADMIN = "sodata"  # sodata's own broker account: administers the dynamic security


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: the MQTT tests must run; .ci/run installs mosquitto)")
    pytest.skip(reason)


class Broker:
    """A private Mosquitto 2 with dynamic security, sodata's account as its administrator."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        plugins = glob.glob("/usr/lib/*/mosquitto_dynamic_security.so") + glob.glob(
            "/usr/lib/mosquitto_dynamic_security.so"
        )
        if not os.path.exists(binary) or not plugins or not shutil.which("mosquitto_ctrl"):
            _missing("Mosquitto 2 with its dynamic security plugin is not installed")
        self.port = _free_port()
        self.password = secrets.token_urlsafe(16)
        dynsec = workdir / "dynamic-security.json"
        subprocess.run(
            ["mosquitto_ctrl", "dynsec", "init", str(dynsec), ADMIN, self.password],
            check=True,
            capture_output=True,
        )
        config = workdir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"user {getpass.getuser()}\n"  # as root it would drop to `mosquitto`: our files are ours
            "allow_anonymous false\n"
            f"plugin {plugins[0]}\n"
            f"plugin_opt_config_file {dynsec}\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_inflight_messages 0\n"
            "max_queued_messages 1000000\n"
        )
        self.command = [binary, "-c", str(config), "-v"]
        self.log_path = workdir / "mosquitto.log"
        self._log = self.log_path.open("a")
        self.start()

    def start(self) -> None:
        """Start it (again: the same port, its persisted sessions and accounts)."""
        self.process = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    log = self.log_path.read_text()
                    raise RuntimeError(f"mosquitto did not start:\n{log}") from None
                time.sleep(0.1)

    def env(self) -> dict[str, str]:
        return {
            "SODATA_MQTT_HOST": "127.0.0.1",
            "SODATA_MQTT_PORT": str(self.port),
            "SODATA_MQTT_USERNAME": ADMIN,
            "SODATA_MQTT_PASSWORD": self.password,
        }

    def settings(self) -> Any:
        from sodata.config import Settings

        return Settings(
            mqtt_host="127.0.0.1",
            mqtt_port=self.port,
            mqtt_username=ADMIN,
            mqtt_password=self.password,
        )

    def stop(self, for_good: bool = True) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if for_good:
            self._log.close()


class Workers:
    """`sodata mqtt --workers N` on the server's database, ready once /ready answers 200."""

    def __init__(
        self,
        server: Server,
        broker: Broker,
        workdir: Path,
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.http = f"http://127.0.0.1:{_free_port()}"
        env = {**os.environ, **broker.env(), **(env or {})}
        env["SODATA_DATABASE_URL"] = server.database_url
        self.log_path = workdir / f"mqtt-{uuid.uuid4().hex[:6]}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sodata", "mqtt", "--workers", str(workers)]
            + ["--http-port", self.http.rsplit(":", 1)[1]],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sodata mqtt exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.http + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"sodata mqtt not ready:\n{self.log_path.read_text()}")

    def children(self) -> list[int]:
        return worker_processes(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


def worker_processes(parent: int) -> list[int]:
    """The worker processes a supervisor started (not multiprocessing's resource tracker)."""
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
    pids = []
    for pid in map(int, out.split()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        if b"resource_tracker" not in command:
            pids.append(pid)
    return pids


class Device:
    """A device (or gateway) publishing with its broker account: the API client's id and
    secret. Answers asked on its answers topic are kept by correlation data."""

    def __init__(self, broker: Broker, username: str, password: str, ca: str, serial: str):
        self.ca, self.serial = ca, serial
        self.answers: dict[bytes, tuple[int, Any]] = {}
        self.arrived = threading.Condition()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"device-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.client.on_message = self._received
        self.refused: str | None = None
        connected = threading.Event()

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            self.refused = str(reason) if reason.is_failure else None
            connected.set()

        self.client.on_connect = on_connect
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert connected.wait(10), "no CONNACK"

    def _received(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        status = dict(message.properties.UserProperty)["status"]
        with self.arrived:
            self.answers[message.properties.CorrelationData] = (
                int(status),
                orjson.loads(message.payload),
            )
            self.arrived.notify_all()

    def topic(self, serial: str | None = None) -> str:
        return f"sodata/v1/{self.ca}/devices/{serial or self.serial}/datapoints"

    def answer_topic(self) -> str:
        return f"sodata/v1/{self.ca}/devices/{self.serial}/answers/test"

    def subscribe_answers(self) -> list[Any]:
        return self.subscribe(self.answer_topic())

    def subscribe(self, topic: str) -> list[Any]:
        """Subscribe at QoS 1; the SUBACK's reason codes."""
        granted: list[Any] = []
        done = threading.Event()

        def on_subscribe(_c: Any, _u: Any, _mid: Any, reasons: list[Any], _p: Any) -> None:
            granted.extend(reasons)
            done.set()

        self.client.on_subscribe = on_subscribe
        self.client.subscribe(topic, qos=1)
        assert done.wait(10), "no SUBACK"
        return granted

    def publish(
        self,
        body: Any,
        serial: str | None = None,
        answer: bool = True,
        qos: int = 1,
        **more: Any,
    ) -> bytes:
        """Publish (QoS 1: returns once the broker acknowledged); the correlation data. `more`:
        other properties of the PUBLISH (paho's names)."""
        correlation = uuid.uuid4().bytes
        properties = Properties(PacketTypes.PUBLISH)
        if answer:
            properties.ResponseTopic = self.answer_topic()
            properties.CorrelationData = correlation
        for name, value in more.items():
            setattr(properties, name, value)
        payload = body if isinstance(body, bytes) else orjson.dumps(body)
        info = self.client.publish(self.topic(serial), payload, qos=qos, properties=properties)
        info.wait_for_publish(10)
        return correlation

    def answer(self, correlation: bytes, timeout: float = 20) -> tuple[int, Any]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: correlation in self.answers, timeout), (
                "no answer on the response topic"
            )
            return self.answers[correlation]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def create_gateway_client(
    api: httpx.Client, role: str = "manager", client_id: str | None = None
) -> httpx.Response:
    """POST an API client bound to the demo's gateway of Masterys U2 CDS (SoLink)."""
    return api.post(
        f"/api/v1/ca/{SOLINK}/clients",
        json={
            "clientId": client_id or unique("gw").replace(" ", "-"),
            "role": role,
            "gatewayUuid": str(MASTERYS_GATEWAY),
        },
    )


def gateway_serial(api: httpx.Client) -> str:
    return api.get(f"/api/v1/ca/{SOLINK}/devices/{MASTERYS_GATEWAY}").json()["serialNumber"]


class Stack:
    def __init__(self, broker: Broker, server: Server, workers: Workers) -> None:
        self.broker, self.server, self.workers = broker, server, workers


@pytest.fixture(scope="module", params=BACKENDS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp(f"mqtt-{request.param}")
    broker = Broker(workdir)
    server = Server(request.param, workdir, env={**broker.env(), **RETENTION})
    try:
        workers = Workers(server, broker, workdir, env=RETENTION)
    except BaseException:
        server.stop()
        broker.stop()
        raise
    yield Stack(broker, server, workers)
    workers.stop()
    server.stop()
    broker.stop()


# Raw points are kept 10 years: older ones are refused
RETENTION = {"SODATA_RAW_RETENTION_DAYS": "3650"}


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with client_as(stack.server, ADMIN_EMAIL) as client:
        yield client
