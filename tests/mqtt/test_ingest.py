"""Devices publish over MQTT through a real Mosquitto: points arrive and are queryable, bad
messages get their reason on the response topic and in the account's Logs, and the broker's
dynamic security keeps each gateway to its own topic, in step with its API client."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sodata.demo.ids import DELPHYS_SERIAL, MASTERYS_U2_CDS, SOLINK
from sodata.mqtt.dynsec import DynamicSecurity
from tests.conftest import unique
from tests.mqtt.conftest import Device, Stack, create_gateway_client, gateway_serial

CHILD_VARIABLE = "Global|0|141935"


def _at(minutes_ago: int) -> str:
    moment = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _client(admin: httpx.Client, role: str = "manager") -> dict[str, Any]:
    answer = create_gateway_client(admin, role)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def gateway(stack: Stack, admin: httpx.Client) -> Any:
    serial = gateway_serial(admin)
    client = _client(admin)
    device = Device(stack.broker, client["clientId"], client["clientSecret"], str(SOLINK), serial)
    assert device.refused is None, device.refused
    assert all(not r.is_failure for r in device.subscribe_answers())
    yield device
    device.close()


def _history(admin: httpx.Client, start: str, end: str) -> list[dict[str, Any]]:
    answer = admin.put(
        f"/api/v1/ca/{SOLINK}/datapoints",
        json={
            "from": start,
            "to": end,
            "granularity": "raw",
            "series": [{"deviceUuid": str(MASTERYS_U2_CDS), "mappingConfig": CHILD_VARIABLE}],
        },
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["series"][0]["data"]


def _logs(admin: httpx.Client, action: str) -> list[dict[str, Any]]:
    answer = admin.get(f"/api/v1/ca/{SOLINK}/logs", params={"take": 100})
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["results"] if e["action"] == action]


def _metric(stack: Stack, name: str) -> float:
    """A sample of the workers' /metrics (its whole name with labels)."""
    text = httpx.get(stack.workers.http + "/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")
    )


def test_points_published_are_stored_and_answered(
    stack: Stack, gateway: Device, admin: httpx.Client
) -> None:
    accepted = 'sodata_points_total{outcome="accepted",path="mqtt"}'
    before = _metric(stack, accepted)
    points = [{"at": _at(m), "value": float(m) + 0.5} for m in (30, 20, 10)]
    correlation = gateway.publish(
        {
            "series": [
                {
                    "deviceUuid": str(MASTERYS_U2_CDS),
                    "mappingConfig": CHILD_VARIABLE,
                    "data": points,
                }
            ]
        }
    )
    status, body = gateway.answer(correlation)
    assert (status, body) == (200, {"accepted": 3, "rejected": 0, "errors": []})
    assert _metric(stack, accepted) == before + 3
    assert _metric(stack, "sodata_mqtt_messages_in_flight") == 0
    assert _metric(stack, "sodata_mqtt_commit_to_ack_seconds_count") >= 1
    stored = _history(admin, _at(31), _at(9))
    assert [(p["at"].replace(".000", ""), p["value"]) for p in stored] == [
        (p["at"], p["value"]) for p in points
    ]

    # sent again with other values (a redelivery, or a correction): stored once, replaced
    again = [{**p, "value": p["value"] * 2} for p in points]
    correlation = gateway.publish(
        {
            "series": [
                {"deviceUuid": str(MASTERYS_U2_CDS), "mappingConfig": CHILD_VARIABLE, "data": again}
            ]
        }
    )
    assert gateway.answer(correlation)[1]["accepted"] == 3
    assert [p["value"] for p in _history(admin, _at(31), _at(9))] == [p["value"] for p in again]


def test_any_properties_and_qos_0_are_taken(gateway: Device, admin: httpx.Client) -> None:
    """The workers read MQTT 5 properties of every kind (mqtt/consumer.py skips those it does
    not use), and a device's QoS 0 message is stored too (nothing to acknowledge)."""
    points = [{"at": _at(m), "value": 40.0 + m} for m in (45, 44)]
    series = {"deviceUuid": str(MASTERYS_U2_CDS), "mappingConfig": CHILD_VARIABLE}
    correlation = gateway.publish(
        {"series": [{**series, "data": points[:1]}]},
        PayloadFormatIndicator=1,
        MessageExpiryInterval=600,
        ContentType="application/json",
        UserProperty=[("site", "Lyon"), ("firmware", "2.1")],
    )
    assert gateway.answer(correlation) == (200, {"accepted": 1, "rejected": 0, "errors": []})
    gateway.publish({"series": [{**series, "data": points[1:]}]}, answer=False, qos=0)
    deadline = time.monotonic() + 10
    while len(stored := _history(admin, _at(46), _at(43))) < 2:
        assert time.monotonic() < deadline, stored
        time.sleep(0.2)
    assert [p["value"] for p in stored] == [p["value"] for p in points]


def test_bad_messages_answer_why_and_go_to_the_logs(gateway: Device, admin: httpx.Client) -> None:
    status, body = gateway.answer(gateway.publish(b'{"series": [oops'))
    assert status == 400 and body["statusCode"] == 400
    assert "not valid JSON" in body["message"]

    status, body = gateway.answer(
        gateway.publish(
            {
                "series": [
                    {"mappingConfig": "Global|0|999999", "data": [{"at": _at(5), "value": 1}]},
                    {
                        "deviceUuid": str(MASTERYS_U2_CDS),
                        "mappingConfig": CHILD_VARIABLE,
                        "data": [
                            {"at": _at(5), "value": "high"},
                            {"at": _at(4), "value": 7},
                            {"at": "2015-01-01T00:00:00Z", "value": 3},  # older than 10 years
                        ],
                    },
                ]
            }
        )
    )
    assert status == 200
    assert (body["accepted"], body["rejected"]) == (1, 3)
    reasons = [e["reason"] for e in body["errors"]]
    assert "has no variable Global|0|999999" in reasons[0]
    assert '"high" is not a number' in reasons[1]
    assert "older than the 3650 days raw points are kept" in reasons[2]

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        malformed = _logs(admin, "MQTT_MESSAGE_REJECTED")
        rejected = _logs(admin, "DATAPOINTS_REJECTED")
        if malformed and rejected:
            break
        time.sleep(0.2)
    assert any("not valid JSON" in e["message"] for e in malformed)
    assert any(
        gateway.serial in e["message"] and "3 points rejected" in e["message"] for e in rejected
    )


def test_unknown_device_is_answered_404(stack: Stack) -> None:
    # an account that may publish anywhere under sodata/v1 (a misconfigured bridge, say)
    password = "bridge-" + unique("pw").replace(" ", "-")
    DynamicSecurity(stack.broker.settings()).run(
        [
            {
                "command": "createRole",
                "rolename": "bridge",
                "acls": [
                    {"acltype": "publishClientSend", "topic": "sodata/v1/#", "allow": True},
                    {"acltype": "subscribePattern", "topic": "sodata/v1/#", "allow": True},
                ],
            },
            {
                "command": "createClient",
                "username": "bridge",
                "password": password,
                "roles": [{"rolename": "bridge"}],
            },
        ]
    )
    device = Device(stack.broker, "bridge", password, str(SOLINK), "NO-SUCH-SERIAL")
    try:
        device.subscribe_answers()
        status, body = device.answer(
            device.publish({"series": [{"mappingConfig": CHILD_VARIABLE, "data": []}]})
        )
    finally:
        device.close()
    assert status == 404 and "NO-SUCH-SERIAL" in body["message"]


def test_a_gateway_cannot_publish_for_another_device(
    stack: Stack, gateway: Device, admin: httpx.Client
) -> None:
    delphys = admin.get(f"/api/v1/ca/{SOLINK}/devices", params={"name": DELPHYS_SERIAL}).json()
    (target,) = delphys["results"]
    mark = _at(2)
    gateway.publish(
        {"series": [{"mappingConfig": "Global|0|140100", "data": [{"at": mark, "value": 123.0}]}]},
        serial=DELPHYS_SERIAL,
        answer=False,
    )
    # nor read another device's answers
    (reason,) = gateway.subscribe(f"sodata/v1/{SOLINK}/devices/{DELPHYS_SERIAL}/answers/#")
    assert reason.is_failure
    time.sleep(1.0)  # what the broker would have delivered, it has by now
    answer = admin.put(
        f"/api/v1/ca/{SOLINK}/datapoints",
        json={
            "from": _at(3),
            "to": _at(1),
            "granularity": "raw",
            "series": [{"deviceUuid": target["uuid"], "mappingConfig": "Global|0|140100"}],
        },
    )
    stored = {p["at"].replace(".000", ""): p["value"] for p in answer.json()["series"][0]["data"]}
    assert stored.get(mark) != 123.0  # the demo's own point, if any, is there unchanged
    log = stack.broker.log_path.read_text()
    assert f"Denied PUBLISH from {gateway.client._client_id.decode()}" in log


def test_broker_accounts_follow_the_api_clients(stack: Stack, admin: httpx.Client) -> None:
    serial = gateway_serial(admin)
    client = _client(admin)
    old = client["clientSecret"]
    new = admin.put(f"/api/v1/ca/{SOLINK}/clients/{client['uuid']}/secret").json()["clientSecret"]

    def refused(password: str) -> str | None:
        device = Device(stack.broker, client["clientId"], password, str(SOLINK), serial)
        device.close()
        return device.refused

    assert refused(old) is not None  # the old secret no longer opens the broker
    assert refused(new) is None
    assert admin.delete(f"/api/v1/ca/{SOLINK}/clients/{client['uuid']}").status_code == 204
    assert refused(new) is not None  # deleted: no account

    viewer = _client(admin, role="viewer")  # may not send data: no broker account
    device = Device(stack.broker, viewer["clientId"], viewer["clientSecret"], str(SOLINK), serial)
    device.close()
    assert device.refused is not None
