"""GET /api/v1/ca/{ca}/devices/{d}/last-values and PUT /api/v1/ca/{ca}/last-values: the fields
of spec 5.9.3, the latest point by time (whatever the order points arrive in), several
devices at once, and the 400s and 404s. Points go to devices of the test's own account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sodata.demo import ids
from tests.datapoints.wire import (
    API,
    CURRENT_L3,
    LOAD,
    SPEC_LAST_VALUE_KEYS,
    Account,
    error,
    ok,
    random_uuid,
    same_404,
)


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


def send(account: Account, device: str, mapping: str, *data: tuple[str, Any]) -> None:
    series = [{"mappingConfig": mapping, "data": [{"at": at, "value": v} for at, v in data]}]
    answer = account.sent(device, series)
    assert answer["rejected"] == 0, answer


def latest(account: Account, device: str) -> dict[str, tuple[str, str]]:
    """serviceId -> (value, date) of the device's last values."""
    return {v["serviceId"]: (v["value"], v["date"]) for v in account.last_values(device)}


def many(account: Account, device_uuids: list[str], client: httpx.Client | None = None):
    return (client or account.api).put(
        f"{account.base}/last-values", json={"deviceUuids": device_uuids}
    )


def test_the_fields_of_5_9_3(account: Account) -> None:
    device = account.device(name="Delphys GP2 - 160 kVA (test)")
    send(account, device, CURRENT_L3, ("2022-07-28T11:19:25Z", 18))
    send(account, device, LOAD, ("2022-07-28T11:19:25.5Z", 18.5))
    answer = ok(account.api.get(f"{account.base}/devices/{device}/last-values"))
    assert set(answer) == {"devices"}
    (entry,) = answer["devices"]
    assert set(entry) == {"deviceUuid", "values"} and entry["deviceUuid"] == device
    for value in entry["values"]:
        assert set(value) == SPEC_LAST_VALUE_KEYS, value
    # only the variables that have a point, as in the spec's example
    by_service = {v["serviceId"]: v for v in entry["values"]}
    assert set(by_service) == {"140100", "140108"}
    assert by_service["140108"] == {
        "serviceId": "140108",
        "itemType": "Global",
        "itemIndex": "0",
        "deviceUuid": device,
        "value": "18",
        "date": "2022-07-28T11:19:25.000Z",
        "title": "Ups output current L3",
        "unit": "AMPERE",
        "deviceName": "Delphys GP2 - 160 kVA (test)",
        "itemName": "Global",
        "serviceGroup": "Output",
        "serviceType": "Measure",
    }
    load = by_service["140100"]
    assert (load["value"], load["date"]) == ("18.5", "2022-07-28T11:19:25.500Z")
    assert (load["title"], load["unit"]) == ("Ups output global load rate", "PERCENT")


def test_the_last_value_is_the_latest_point_by_time(account: Account) -> None:
    device = account.device()
    send(account, device, LOAD, ("2022-05-18T10:00:00Z", 2))
    assert latest(account, device) == {"140100": ("2", "2022-05-18T10:00:00.000Z")}
    # a late point, older than the last one: the last value stays
    send(account, device, LOAD, ("2022-05-18T09:00:00Z", 1))
    assert latest(account, device) == {"140100": ("2", "2022-05-18T10:00:00.000Z")}
    # the latest point overwritten: its new value
    send(account, device, LOAD, ("2022-05-18T12:00:00+02:00", -3.25))
    assert latest(account, device) == {"140100": ("-3.25", "2022-05-18T10:00:00.000Z")}
    # a batch out of order, with the same time twice: the latest time, its last value
    send(
        account,
        device,
        LOAD,
        ("2022-05-18T11:30:00Z", 7),
        ("2022-05-18T11:00:00Z", 6),
        ("2022-05-18T11:30:00Z", 8),
        ("2022-05-18T10:30:00Z", 5),
    )
    assert latest(account, device) == {"140100": ("8", "2022-05-18T11:30:00.000Z")}
    # another variable has its own
    send(account, device, CURRENT_L3, ("2022-05-18T08:00:00.007Z", 1e6))
    assert latest(account, device) == {
        "140100": ("8", "2022-05-18T11:30:00.000Z"),
        "140108": ("1000000", "2022-05-18T08:00:00.007Z"),
    }
    # the history keeps every point
    answer = account.read({"deviceUuid": device, "mappingConfig": LOAD})
    assert [p["value"] for p in answer["data"]] == [1, -3.25, 5, 6, 8]


def test_rejected_points_leave_the_last_value(account: Account) -> None:
    device = account.device()
    send(account, device, LOAD, ("2022-05-18T10:00:00Z", 2))
    answer = account.sent(
        device,
        [{"mappingConfig": LOAD, "data": [{"at": "2022-05-18T11:00:00Z", "value": "high"}]}],
    )
    assert answer["rejected"] == 1
    assert latest(account, device) == {"140100": ("2", "2022-05-18T10:00:00.000Z")}


def test_children_of_a_gateway_get_their_last_values(account: Account) -> None:
    gateway = account.device(ids.GATEWAY_TYPE)
    child = account.device(gatewayUuid=gateway)
    series = [
        {
            "deviceUuid": child,
            "mappingConfig": LOAD,
            "data": [{"at": "2022-05-18T10:00:00Z", "value": 12}],
        }
    ]
    assert account.sent(gateway, series)["accepted"] == 1
    assert latest(account, child) == {"140100": ("12", "2022-05-18T10:00:00.000Z")}
    assert latest(account, gateway) == {}


def test_several_devices_in_the_order_asked(account: Account) -> None:
    first, second, silent = account.device(), account.device(), account.device()
    send(account, first, LOAD, ("2022-05-18T10:00:00Z", 1))
    send(account, second, LOAD, ("2022-05-18T10:00:00Z", 2))
    send(account, second, CURRENT_L3, ("2022-05-18T10:00:00Z", 3))
    for order in ([second, silent, first], [first, second, silent], [silent, first]):
        answer = ok(many(account, order))
        assert [d["deviceUuid"] for d in answer["devices"]] == order
        values = {d["deviceUuid"]: d["values"] for d in answer["devices"]}
        for device, found in values.items():
            assert all(v["deviceUuid"] == device for v in found)
            assert found == account.last_values(device)
    assert ok(many(account, [silent]))["devices"] == [{"deviceUuid": silent, "values": []}]
    assert [v["value"] for v in account.last_values(second)] == ["2", "3"]


def test_bad_lists_are_400(account: Account) -> None:
    device = account.device()
    assert "deviceUuids" in error(many(account, []), 400)
    assert "deviceUuids" in error(many(account, [device, "Delphys"]), 400)
    assert "deviceUuids" in error(many(account, [device] * 1001), 400)
    answer = ok(many(account, [device] * 1000))
    assert {d["deviceUuid"] for d in answer["devices"]} == {device}
    url = f"{account.base}/last-values"
    assert "deviceUuids" in error(account.api.put(url, json={}), 400)
    assert "devices" in error(account.api.put(url, json={"devices": [device]}), 400)


def test_unknown_devices_are_404(account: Account) -> None:
    device, random = account.device(), random_uuid()
    get = f"{account.base}/devices/{random}/last-values"
    assert error(account.api.get(get), 404) == f"Device {random} not found"
    assert error(many(account, [device, random]), 404) == f"Device {random} not found"
    # a device of another account is as unknown
    delphys = str(ids.DELPHYS_GP2)
    same_404(
        account.api.get(f"{account.base}/devices/{delphys}/last-values"),
        account.api.get(get),
        delphys,
        random,
    )
    same_404(many(account, [delphys]), many(account, [random]), delphys, random)


def test_the_spec_device_as_in_5_9_3(api: httpx.Client) -> None:
    """The demo's Delphys GP2 has last values for the variables of its history."""
    url = f"{API}/ca/{ids.SOLINK}/devices/{ids.DELPHYS_GP2}/last-values"
    (entry,) = ok(api.get(url))["devices"]
    assert entry["deviceUuid"] == str(ids.DELPHYS_GP2)
    by_service = {v["serviceId"]: v for v in entry["values"]}
    assert {"140100", "140108"} <= set(by_service)
    current = by_service["140108"]
    assert set(current) == SPEC_LAST_VALUE_KEYS
    assert (current["title"], current["unit"]) == ("Ups output current L3", "AMPERE")
    assert (current["deviceName"], current["itemName"]) == ("Delphys GP2 - 160 kVA", "Global")
    assert (current["serviceGroup"], current["serviceType"]) == ("Output", "Measure")
    assert current["date"].endswith("Z") and current["date"][-5] == "."
    float(current["value"])
    # the same through PUT
    both = ok(
        api.put(
            f"{API}/ca/{ids.SOLINK}/last-values",
            json={"deviceUuids": [str(ids.MASTERYS_U2_CDS), str(ids.DELPHYS_GP2)]},
        )
    )
    assert [d["deviceUuid"] for d in both["devices"]] == [
        str(ids.MASTERYS_U2_CDS),
        str(ids.DELPHYS_GP2),
    ]
    assert both["devices"][1] == entry
