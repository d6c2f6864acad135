"""Several processes on one database (issue 12): `sodata serve --workers 2` and
`sodata mqtt --workers 2`. During a load over both paths, one API process and one MQTT worker
are killed with SIGKILL (their supervisors start them again): every point acknowledged is
stored (over MQTT: the broker's PUBACK, which the device takes as delivered; over HTTP: the 200),
and none is stored twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from sodata.demo.ids import (
    ADMIN_EMAIL,
    DELPHYS_GP2,
    MASTERYS_U2_CDS,
    SOLINK,
)
from tests.conftest import BACKENDS, Server, client_as
from tests.mqtt.conftest import (
    Broker,
    Device,
    Workers,
    create_gateway_client,
    gateway_serial,
    worker_processes,
)

pytestmark = pytest.mark.scenario
MESSAGES = 1500  # over MQTT, one point each, about 5 s
BATCHES = 60  # over HTTP, 50 points each
START = datetime(2021, 3, 1, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _stored(api: httpx.Client, device: object, variable: str, end: datetime) -> dict[str, float]:
    answer = api.put(
        f"/api/v1/ca/{SOLINK}/datapoints",
        json={
            "from": _iso(START),
            "to": _iso(end),
            "granularity": "raw",
            "series": [{"deviceUuid": str(device), "mappingConfig": variable}],
        },
    )
    assert answer.status_code == 200, answer.text
    (series,) = answer.json()["series"]
    assert series["nextAfter"] is None
    return {p["at"].replace(".000", ""): p["value"] for p in series["data"]}


@pytest.mark.parametrize("backend", BACKENDS)
def test_killing_an_api_and_an_mqtt_process_loses_nothing(backend: str, tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    server = Server(backend, tmp_path, env=broker.env(), args=["--workers", "2"])
    workers = None
    try:
        workers = Workers(server, broker, tmp_path, workers=2)
        api = client_as(server, ADMIN_EMAIL)
        serial = gateway_serial(api)
        client = create_gateway_client(api).json()
        device = Device(broker, client["clientId"], client["clientSecret"], str(SOLINK), serial)

        published: dict[str, float] = {}  # acknowledged by the broker
        sent_http: dict[str, float] = {}  # answered 200

        def publish() -> None:
            for i in range(MESSAGES):
                at = _iso(START + timedelta(minutes=i))
                device.publish(
                    {
                        "series": [
                            {
                                "deviceUuid": str(MASTERYS_U2_CDS),
                                "mappingConfig": "Global|0|141935",
                                "data": [{"at": at, "value": float(i)}],
                            }
                        ]
                    },
                    answer=False,
                )
                published[at] = float(i)
                time.sleep(0.002)

        def post() -> None:
            with httpx.Client(base_url=server.url, timeout=30, auth=api.auth) as http:
                for b in range(BATCHES):
                    points = [
                        {"at": _iso(START + timedelta(minutes=b * 50 + k)), "value": b + k / 100}
                        for k in range(50)
                    ]
                    try:
                        answer = http.post(
                            f"/api/v1/ca/{SOLINK}/devices/{DELPHYS_GP2}/datapoints",
                            json={"series": [{"mappingConfig": "Global|0|140100", "data": points}]},
                        )
                    except httpx.TransportError:  # its process was killed: not acknowledged
                        continue
                    if answer.status_code == 200:
                        assert answer.json()["accepted"] == 50
                        sent_http.update((p["at"], p["value"]) for p in points)
                    time.sleep(0.05)

        threads = [threading.Thread(target=publish), threading.Thread(target=post)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)  # the load is under way
        mqtt_worker = workers.children()[0]
        api_worker = worker_processes(server.process.pid)[0]
        os.kill(mqtt_worker, signal.SIGKILL)
        os.kill(api_worker, signal.SIGKILL)
        for thread in threads:
            thread.join(120)
        device.close()
        assert len(published) == MESSAGES
        assert mqtt_worker not in workers.children()  # it was started again, as another process
        workers.wait_ready()

        end = START + timedelta(minutes=MESSAGES + BATCHES * 50)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stored = _stored(api, MASTERYS_U2_CDS, "Global|0|141935", end)
            if len(stored) >= len(published):
                break
            time.sleep(0.5)
        assert stored == published  # every acknowledged point, once, with its value
        stored_http = _stored(api, DELPHYS_GP2, "Global|0|140100", end)
        assert {at: stored_http.get(at) for at in sent_http} == sent_http
        assert len(sent_http) >= 50 * BATCHES // 2  # most batches were acknowledged
    finally:
        if workers is not None:
            workers.stop()
        server.stop()
        broker.stop()
