"""The broker goes away while `sodata mqtt` runs (issue 13's broker outage): /ready says so
(503, the API's error shape) while /health stays 200; once the broker is back, the workers
reconnect to their persistent sessions and the messages published before and after the outage
are all stored, once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sodata.demo.ids import ADMIN_EMAIL, MASTERYS_U2_CDS, SOLINK
from tests.conftest import BACKENDS, Server, client_as
from tests.mqtt.conftest import (
    Broker,
    Device,
    Workers,
    create_gateway_client,
    gateway_serial,
)

pytestmark = pytest.mark.scenario
VARIABLE = "Global|0|141935"
START = datetime(2021, 6, 1, tzinfo=UTC)


def _body(i: int) -> dict:
    at = (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "series": [
            {
                "deviceUuid": str(MASTERYS_U2_CDS),
                "mappingConfig": VARIABLE,
                "data": [{"at": at, "value": float(i)}],
            }
        ]
    }


def _wait(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_ride_out_a_broker_outage(backend: str, tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    server = Server(backend, tmp_path, env=broker.env())
    workers = None
    try:
        workers = Workers(server, broker, tmp_path, workers=2)
        api = client_as(server, ADMIN_EMAIL)
        serial = gateway_serial(api)
        client = create_gateway_client(api).json()

        def publish(numbers: range) -> None:
            device = Device(broker, client["clientId"], client["clientSecret"], str(SOLINK), serial)
            for i in numbers:
                device.publish(_body(i), answer=False)
            device.close()

        publish(range(0, 100))
        broker.stop(for_good=False)
        assert _wait(lambda: httpx.get(workers.http + "/ready").status_code == 503)
        ready = httpx.get(workers.http + "/ready")
        assert ready.json()["statusCode"] == 503 and "broker" in ready.json()["message"]
        assert ready.headers["Retry-After"] == "1"
        assert httpx.get(workers.http + "/health").status_code == 200

        broker.start()
        workers.wait_ready()
        publish(range(100, 200))

        def stored() -> dict[str, float]:
            answer = api.put(
                f"/api/v1/ca/{SOLINK}/datapoints",
                json={
                    "from": "2021-06-01T00:00:00Z",
                    "to": "2021-06-02T00:00:00Z",
                    "granularity": "raw",
                    "series": [{"deviceUuid": str(MASTERYS_U2_CDS), "mappingConfig": VARIABLE}],
                },
            )
            return {p["at"]: p["value"] for p in answer.json()["series"][0]["data"]}

        assert _wait(lambda: len(stored()) >= 200)
        assert sorted(stored().values()) == [float(i) for i in range(200)]
    finally:
        if workers is not None:
            workers.stop()
        server.stop()
        broker.stop()
