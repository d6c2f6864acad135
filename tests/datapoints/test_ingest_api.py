"""POST /api/v1/ca/{ca}/devices/{d}/datapoints through the real server: what is accepted and
what is rejected with which reason, overwrites, gateways and their child devices, who may
send (users by role, API clients bound to a gateway), and the structural 400s and the 413.

Points go to devices of the test's own corporate account; demo devices are never written."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sodata.demo import ids
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from tests.conftest import Server, client_as
from tests.datapoints.wire import (
    API,
    CURRENT_L3,
    LOAD,
    Account,
    error,
    ms,
    ok,
    pairs,
    points,
    random_uuid,
    read_answer,
    same_404,
)

GATEWAY_VARIABLE = "Global|0|300102"  # a variable of the IoT Gateway profile
MIB = 2**20


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


def stored(account: Account, device: str, mapping: str = LOAD, **window: str) -> list[tuple]:
    """Every point of the variable, as (ms, value)."""
    window = {"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", **window}
    return pairs(account.read({"deviceUuid": device, "mappingConfig": mapping}, **window))


def count(account: Account, device: str, mapping: str = LOAD) -> list[Any]:
    """The yearly count aggregation of the variable over all times (from the rollups)."""
    series = {"deviceUuid": device, "mappingConfig": mapping, "aggregation": "count"}
    window = {"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}
    return [p["value"] for p in account.read(series, granularity="year", **window)["data"]]


def reasons(answer: dict[str, Any]) -> dict[tuple[int, int | None], str]:
    return {(e["series"], e["point"]): e["reason"] for e in answer["errors"]}


# --- accepted and rejected points -------------------------------------------------------------


def test_each_bad_point_is_rejected_with_its_reason(account: Account) -> None:
    device = account.device()
    now = datetime.now(UTC)
    soon = (now + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    later = (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data: list[Any] = [
        {"at": "2022-05-18T00:00:00Z", "value": 1},  # 0 ok
        {"at": "2022-05-18T00:01:00Z", "value": "abc"},  # 1 a string
        {"at": "2022-05-18T00:02:00Z", "value": True},  # 2 a boolean (numeric variable)
        {"at": "2022-05-18T00:03:00Z", "value": None},  # 3 null
        {"at": "2022-05-18T00:04:00Z", "value": "4"},  # 4 a number as text
        {"at": "2022-05-18T00:05:00Z", "value": [5]},  # 5 a list
        {"at": "18/05/2022 00:06", "value": 6},  # 6 unparsable time
        {"at": 1652832420000, "value": 7},  # 7 a time as a number
        {"at": "2022-05-18T00:08:00Z", "value": {"v": 8}},  # 8 an object
        {"value": 9},  # 9 no time
        {"at": "2022-05-18T00:10:00Z"},  # 10 no value
        [1652832600000, 11],  # 11 not an object
        "2022-05-18T00:12:00Z",  # 12 not an object
        {"at": "2022-05-18T00:13:00Z", "value": 13, "unit": "%"},  # 13 an unknown key
        {"at": later, "value": 14},  # 14 more than an hour ahead
        {"at": soon, "value": 15},  # 15 ok: less than an hour ahead
        {"at": "1969-12-31T23:59:59.999Z", "value": 16},  # 16 before 1970
        {"at": "1970-01-01T00:00:00Z", "value": 17},  # 17 ok
        {"at": "2022-05-18T02:18:00+02:00", "value": 18.5},  # 18 ok: 00:18Z
        {"at": "2022-05-18T00:19:00", "value": -19},  # 19 ok: no offset is UTC
        {"at": "2022-05-18T00:20:00.123Z", "value": 1e-3},  # 20 ok
    ]
    answer = account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    good = [0, 15, 17, 18, 19, 20]
    assert (answer["accepted"], answer["rejected"]) == (len(good), len(data) - len(good))
    why = reasons(answer)
    assert set(why) == {(0, j) for j in range(len(data)) if j not in good}
    for j in (1, 2, 3, 4, 5, 8):
        assert why[0, j].startswith("value:") and "not a number" in why[0, j], why[0, j]
    for j in (6, 7):
        assert why[0, j].startswith("at:") and "ISO 8601" in why[0, j], why[0, j]
    for j in (9, 10, 11, 12, 13):
        assert '"at"' in why[0, j] and '"value"' in why[0, j], why[0, j]
    assert why[0, 14].startswith("at:") and "hour ahead" in why[0, 14]
    assert why[0, 16].startswith("at:") and "1970" in why[0, 16]
    by_point = {e["point"]: e["at"] for e in answer["errors"]}
    assert by_point[1] == "2022-05-18T00:01:00Z" and by_point[6] == "18/05/2022 00:06"
    assert by_point[14] == later
    assert stored(account, device) == [
        (0, 17),
        (ms("2022-05-18T00:00:00Z"), 1),
        (ms("2022-05-18T00:18:00Z"), 18.5),
        (ms("2022-05-18T00:19:00Z"), -19),
        (ms("2022-05-18T00:20:00.123Z"), 1e-3),
        (ms(soon), 15),
    ]


def test_a_point_with_a_null_time_is_rejected_not_dropped(account: Account) -> None:
    """Every point sent is counted, accepted or rejected with its reason."""
    device = account.device()
    data = [
        {"at": None, "value": 1},
        {"at": None, "value": "x"},
        {"at": "2022-05-18T00:00:00Z", "value": 2},
    ]
    answer = account.sent(device, [{"mappingConfig": LOAD, "data": data}])
    assert (answer["accepted"], answer["rejected"]) == (1, 2), answer
    assert [e["point"] for e in answer["errors"]] == [0, 1], answer
    assert all(e["reason"].startswith("at:") for e in answer["errors"]), answer


def _raw_post(account: Account, device: str, body: bytes) -> httpx.Response:
    return account.api.post(
        f"{account.base}/devices/{device}/datapoints",
        content=body,
        headers={"content-type": "application/json"},
    )


def test_an_overflowing_number_rejects_its_point_not_the_batch(account: Account) -> None:
    """1e999 is a JSON number no double holds: its point is rejected like a non-number, and
    the other points of the batch are stored."""
    device = account.device()
    body = (
        b'{"series": [{"mappingConfig": "Global|0|140100", "data": ['
        b'{"at": "2022-05-18T00:00:00Z", "value": 1e999},'
        b'{"at": "2022-05-18T00:01:00Z", "value": -1e999},'
        b'{"at": "2022-05-18T00:02:00Z", "value": 2}]}]}'
    )
    answer = ok(_raw_post(account, device, body))
    assert (answer["accepted"], answer["rejected"]) == (1, 2), answer
    assert all(e["reason"].startswith("value:") for e in answer["errors"]), answer
    assert stored(account, device) == [(ms("2022-05-18T00:02:00Z"), 2)]


@pytest.mark.parametrize(
    "at",
    [
        "2022-05-18T00:05:05ZZ",
        "NaTZ",
        "2022-05-18T00:05:05+02:00Z",
        # a NUL: refused as "...Zgarbage" is, not read as the time before it (or the offset
        # after it); the last one has the width of a time with milliseconds
        "2022-05-10T01:00:00Z\u0000garbage",
        "2022-05-10T02:00:00\u0000+05:00",
        "2022-05-10T01:00:00Z\u0000\u0000\u0000\u0000",
    ],
)
def test_a_points_verdict_does_not_depend_on_its_batch(account: Account, at: str) -> None:
    """A malformed time is refused with the same reason whether the other points of the batch
    are written with "Z" or not."""
    device = account.device()
    alone = account.sent(device, [{"mappingConfig": LOAD, "data": [{"at": at, "value": 1}]}])
    mixed = account.sent(
        device,
        [
            {
                "mappingConfig": CURRENT_L3,
                "data": [{"at": at, "value": 1}, {"at": "2022-05-18T00:00:00+00:00", "value": 2}],
            }
        ],
    )
    assert mixed["rejected"] == 1 and "ISO 8601" in mixed["errors"][0]["reason"], mixed
    assert (alone["accepted"], alone["rejected"]) == (0, 1), alone
    assert alone["errors"][0]["reason"] == mixed["errors"][0]["reason"], (alone, mixed)
    assert stored(account, device) == []


def test_a_series_naming_no_variable_is_rejected_whole(account: Account) -> None:
    device, other = account.device(), account.device()
    data = points("2022-05-18T00:00:00Z", 3)
    series = [
        {"mappingConfig": "Global|0|999999", "data": data},  # no such variable
        {"variableUuid": random_uuid(), "data": data},  # no such variable
        {"variableUuid": account.variables(other)[LOAD], "data": data},  # another device's
        {"mappingConfig": "Global 0 140100", "data": data},  # malformed
        {"data": data},  # no name
        {"itemType": "Global", "itemIndex": "zero", "serviceId": "140100", "data": data},
        {"itemType": "Global", "itemIndex": "0", "serviceId": "140100", "data": data},  # ok
    ]
    answer = account.sent(device, series)
    assert (answer["accepted"], answer["rejected"]) == (3, 18)
    assert [(e["series"], e["point"], e["at"]) for e in answer["errors"]] == [
        (i, None, None) for i in range(6)
    ]
    why = [e["reason"] for e in answer["errors"]]
    assert "Global|0|999999" in why[0] and device in why[0]
    assert series[1]["variableUuid"] in why[1] and series[2]["variableUuid"] in why[2]
    assert "mappingConfig" in why[3] and "Item|Index|Service" in why[3]
    assert "mappingConfig" in why[4] and "variableUuid" in why[4]
    assert "itemIndex" in why[5]
    assert [v for _, v in stored(account, device)] == [0, 1, 2]
    assert stored(account, other) == []


def test_only_accepted_devices_take_data(account: Account) -> None:
    device = account.device()
    url = f"{account.base}/devices/{device}"
    ok(account.api.put(f"{url}/deactivate"))
    series = [{"mappingConfig": LOAD, "data": points("2022-05-18T00:00:00Z", 4)}]
    answer = account.sent(device, series)
    assert (answer["accepted"], answer["rejected"]) == (0, 4)
    (rejection,) = answer["errors"]
    assert rejection["point"] is None and "deactivated" in rejection["reason"], rejection
    assert stored(account, device) == []
    ok(account.api.put(f"{url}/activate"))
    assert account.sent(device, series)["accepted"] == 4
    # a pre-created device (pending, no site yet)
    pending = pre_created(account)
    answer = account.sent(pending, series)
    assert (answer["accepted"], answer["rejected"]) == (0, 4)
    assert "pending" in answer["errors"][0]["reason"], answer


def pre_created(account: Account) -> str:
    body = {"serialNumber": random_uuid()[:20], "deviceTypeUid": str(ids.MASTERYS_TYPE)}
    made = ok(account.api.post(f"{account.base}/devices/pre-create", json=body), 201)
    assert made["status"] == "PENDING"
    return made["uuid"]


def test_a_point_sent_again_replaces_the_stored_one(account: Account) -> None:
    device = account.device()
    first = [{"at": "2022-05-18T10:00:00Z", "value": 1}, {"at": "2022-05-18T10:05:00Z", "value": 2}]
    assert account.sent(device, [{"mappingConfig": LOAD, "data": first}])["accepted"] == 2
    again = [{"at": "2022-05-18T12:00:00+02:00", "value": 5}]  # 10:00Z, another spelling
    assert account.sent(device, [{"mappingConfig": LOAD, "data": again}])["accepted"] == 1
    assert stored(account, device) == [
        (ms("2022-05-18T10:00:00Z"), 5),
        (ms("2022-05-18T10:05:00Z"), 2),
    ]
    assert count(account, device) == [2]
    # the whole call retried: nothing counted twice
    for _ in range(2):
        account.sent(device, [{"mappingConfig": LOAD, "data": first}])
    assert count(account, device) == [2]
    hourly = {"deviceUuid": device, "mappingConfig": LOAD, "aggregation": "sum"}
    assert account.read(hourly, granularity="hour")["data"] == [
        {"at": "2022-05-18T10:00:00Z", "value": 3}
    ]


def test_the_last_of_duplicates_in_one_call_wins(account: Account) -> None:
    device = account.device()
    variable = account.variables(device)[LOAD]
    at = "2022-05-18T08:00:00Z"
    series = [
        {
            "mappingConfig": LOAD,
            "data": [
                {"at": at, "value": 1},
                {"at": "2022-05-18T08:01:00Z", "value": 7},
                {"at": at, "value": 2},
            ],
        },
        {"variableUuid": variable, "data": [{"at": "2022-05-18T10:00:00+02:00", "value": 3}]},
    ]
    answer = account.sent(device, series)
    assert answer["rejected"] == 0
    assert stored(account, device) == [(ms(at), 3), (ms("2022-05-18T08:01:00Z"), 7)]
    assert count(account, device) == [2]


# --- gateways ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway(account: Account) -> dict[str, str]:
    """A gateway with two child devices, a device of no gateway, and a child of another."""
    gw = account.device(ids.GATEWAY_TYPE)
    other_gw = account.device(ids.GATEWAY_TYPE)
    return {
        "gateway": gw,
        "child": account.device(gatewayUuid=gw),
        "child2": account.device(ids.DELPHYS_TYPE, gatewayUuid=gw),
        "stranger": account.device(),
        "foreign_child": account.device(gatewayUuid=other_gw),
    }


def test_a_gateway_sends_for_its_child_devices(account: Account, gateway: dict[str, str]) -> None:
    gw, child, child2 = gateway["gateway"], gateway["child"], gateway["child2"]
    data = points("2022-05-18T03:00:00Z", 2, values=[40, 41])
    series = [
        {"mappingConfig": GATEWAY_VARIABLE, "data": data},  # the gateway's own
        {"deviceUuid": child, "mappingConfig": LOAD, "data": data},
        {"deviceUuid": child2, "mappingConfig": "Unit|0|140100", "data": data},
        {"deviceUuid": gateway["stranger"], "mappingConfig": LOAD, "data": data},
        {"deviceUuid": gateway["foreign_child"], "mappingConfig": LOAD, "data": data},
        {"deviceUuid": random_uuid(), "mappingConfig": LOAD, "data": data},
        {"deviceUuid": gw, "mappingConfig": GATEWAY_VARIABLE, "data": data[:1]},  # itself
        {"deviceUuid": child, "mappingConfig": GATEWAY_VARIABLE, "data": data},  # not the child's
    ]
    answer = account.sent(gw, series)
    assert (answer["accepted"], answer["rejected"]) == (7, 8)
    why = reasons(answer)
    assert set(why) == {(3, None), (4, None), (5, None), (7, None)}
    for i in (3, 4, 5):
        assert series[i]["deviceUuid"] in why[i, None] and "child" in why[i, None]
    assert GATEWAY_VARIABLE in why[7, None]
    want = [(ms(p["at"]), p["value"]) for p in data]
    assert stored(account, gw, GATEWAY_VARIABLE) == want
    assert stored(account, child) == want
    assert stored(account, child2, "Unit|0|140100") == want
    assert stored(account, gateway["stranger"]) == []
    assert stored(account, gateway["foreign_child"]) == []
    # a device that is no gateway sends for itself only
    answer = account.sent(child, [{"deviceUuid": child2, "mappingConfig": LOAD, "data": data}])
    assert (answer["accepted"], answer["rejected"]) == (0, 2)


def test_api_clients_bound_to_a_gateway(account: Account, gateway: dict[str, str]) -> None:
    """They send for the gateway and its child devices only; other devices are unknown."""
    gw, child, stranger = gateway["gateway"], gateway["child"], gateway["stranger"]
    bound = account.api_client("manager", gateway=gw)
    data = points("2022-05-18T04:00:00Z", 3)
    own = [{"mappingConfig": GATEWAY_VARIABLE, "data": data}]
    for_child = [{"deviceUuid": child, "mappingConfig": CURRENT_L3, "data": data}]
    assert account.sent(gw, own, client=bound)["accepted"] == 3
    assert account.sent(gw, for_child, client=bound)["accepted"] == 3
    # the child's own path too
    assert (
        account.sent(child, [{"mappingConfig": CURRENT_L3, "data": data}], bound)["accepted"] == 3
    )
    assert len(stored(account, child, CURRENT_L3)) == 3
    series = [{"mappingConfig": LOAD, "data": data}]
    random = random_uuid()
    for device in (stranger, gateway["foreign_child"]):
        got = account.send(device, series, client=bound)
        same_404(got, account.send(random, series, client=bound), device, random)
    assert stored(account, stranger) == []
    # a series for a stranger through the gateway is rejected
    answer = account.sent(gw, [{"deviceUuid": stranger, **series[0]}], client=bound)
    assert answer["rejected"] == 3
    # a viewer client bound to the gateway may not send
    viewer = account.api_client("viewer", gateway=gw)
    assert error(account.send(gw, own, client=viewer), 403)
    # nor may it, or the manager client, send in another account
    for client in (bound, viewer):
        url = f"{API}/ca/{ids.SOLINK}/devices/{ids.DELPHYS_GP2}/datapoints"
        assert client.post(url, json={"series": own}).status_code == 404


def test_api_clients_without_a_gateway(account: Account) -> None:
    """A manager API client bound to no gateway reads no device data, so sends for none; an
    admin API client sends for every device of its account."""
    device = account.device()
    series = [{"mappingConfig": LOAD, "data": points("2022-05-18T05:00:00Z", 2)}]
    manager = account.api_client("manager")
    random = random_uuid()
    same_404(
        account.send(device, series, client=manager),
        account.send(random, series, client=manager),
        device,
        random,
    )
    admin = account.api_client("admin")
    assert account.sent(device, series, client=admin)["accepted"] == 2


# --- users ------------------------------------------------------------------------------------


def test_users_need_the_manager_role_and_the_device_data(account: Account) -> None:
    device, hidden = account.device(), account.device()
    series = [{"mappingConfig": LOAD, "data": points("2022-05-18T06:00:00Z", 2)}]
    _, viewer = account.member("viewer")
    assert error(account.send(device, series, client=viewer), 403)
    manager_uuid, manager = account.member("manager")
    random = random_uuid()
    # a manager outside every data access group reads no device's data
    same_404(
        account.send(device, series, client=manager),
        account.send(random, series, client=manager),
        device,
        random,
    )
    group = account.access_group(devices=[device])
    account.join(group, manager_uuid)
    assert account.sent(device, series, client=manager)["accepted"] == 2
    same_404(
        account.send(hidden, series, client=manager),
        account.send(random, series, client=manager),
        hidden,
        random,
    )
    _, admin = account.member("admin")
    assert account.sent(hidden, series, client=admin)["accepted"] == 2
    assert len(stored(account, device)) == len(stored(account, hidden)) == 2


def test_demo_users_on_solink(server: Server) -> None:
    """On the demo's devices (nothing is written): viewer@ is refused (403), other@ knows no
    SoLink (404), demo@ (admin) is let through: an empty batch is a 200."""
    url = f"{API}/ca/{ids.SOLINK}/devices/{ids.MASTERYS_U2_CDS}/datapoints"
    variable = str(ids.MASTERYS_OVERLOAD_VARIABLE)
    empty = {"series": [{"variableUuid": variable, "data": []}]}
    with (
        client_as(server, ids.DEMO_EMAIL) as demo,
        client_as(server, ids.VIEWER_EMAIL) as viewer,
        client_as(server, ids.OTHER_EMAIL) as other,
    ):
        assert ok(demo.post(url, json=empty)) == {"accepted": 0, "rejected": 0, "errors": []}
        assert ok(demo.post(url, json={"series": []})) == {
            "accepted": 0,
            "rejected": 0,
            "errors": [],
        }
        assert error(viewer.post(url, json=empty), 403)
        message = error(other.post(url, json=empty), 404)
        assert message == f"Corporate account {ids.SOLINK} not found"
        # other@ in its own account, naming a SoLink device: as unknown as a random one
        mine = f"{API}/ca/{ids.ENERGY_STORAGE}/devices"
        random = random_uuid()
        same_404(
            other.post(f"{mine}/{ids.MASTERYS_U2_CDS}/datapoints", json=empty),
            other.post(f"{mine}/{random}/datapoints", json=empty),
            str(ids.MASTERYS_U2_CDS),
            random,
        )


def test_unknown_devices_are_404(account: Account) -> None:
    random = random_uuid()
    series = [{"mappingConfig": LOAD, "data": points("2022-05-18T00:00:00Z", 1)}]
    assert error(account.send(random, series), 404) == f"Device {random} not found"
    # a device of another account (the demo's Delphys) is not in this one
    same_404(
        account.send(str(ids.DELPHYS_GP2), series),
        account.send(random, series),
        str(ids.DELPHYS_GP2),
        random,
    )


# --- the body ---------------------------------------------------------------------------------

# (case, body, words the message must hold)
BAD_BODIES: list[tuple[str, Any, list[str]]] = [
    ("not an object", [], ["body", "series"]),
    ("no series", {}, ["body", "series"]),
    ("series not a list", {"series": {"mappingConfig": LOAD}}, ["body", "series"]),
    ("an unknown key", {"series": [], "device": "x"}, ["body", "series"]),
    ("a series not an object", {"series": ["Global|0|140100"]}, ["series[0]", "data"]),
    ("a series without data", {"series": [{"mappingConfig": LOAD}]}, ["series[0]", "data"]),
    (
        "data not a list",
        {"series": [{"mappingConfig": LOAD, "data": {"at": "2022-05-18T00:00:00Z"}}]},
        ["series[0]", "data"],
    ),
    (
        "an unknown series field",
        {"series": [{"mappingConfig": LOAD, "data": [], "unit": "%"}]},
        ["series[0].unit"],
    ),
    (
        "a malformed deviceUuid",
        {"series": [{"deviceUuid": "child", "mappingConfig": LOAD, "data": []}]},
        ["series[0].deviceUuid"],
    ),
    (
        "over 100 series",
        {"series": [{"mappingConfig": LOAD, "data": []}] * 101},
        ["series", "100"],
    ),
    (
        "over 100,000 points",
        {
            "series": [
                {"mappingConfig": LOAD, "data": points("2022-05-18T00:00:00Z", 60_000)},
                {"mappingConfig": CURRENT_L3, "data": points("2022-05-18T00:00:00Z", 40_001)},
            ]
        },
        ["series", "100000"],
    ),
]


@pytest.mark.parametrize(
    ("body", "words"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES]
)
def test_a_malformed_batch_is_a_400_and_stores_nothing(
    account: Account, body: Any, words: list[str]
) -> None:
    device = account.device()
    url = f"{account.base}/devices/{device}/datapoints"
    message = error(account.api.post(url, json=body), 400)
    missing = [word for word in words if word not in message]
    assert not missing, f"{message!r} lacks {missing}"
    assert stored(account, device) == stored(account, device, CURRENT_L3) == []


def test_a_body_that_is_not_json_is_a_400(account: Account) -> None:
    device = account.device()
    for body in (b"", b"series", b'{"series": [', b"\xff\xfe"):
        message = error(_raw_post(account, device, body), 400)
        assert "JSON" in message, message


@pytest.mark.parametrize("depth", [1_025, 100_000])
def test_json_nested_past_the_depth_limit_is_a_400(account: Account, depth: int) -> None:
    """orjson stops at 1,024 levels; the fallback decoder (for numbers past a double, 1e999)
    runs out of stack: a 400, not a RecursionError's 500."""
    device = account.device()
    for body in (b"[" * depth + b"]" * depth, b'{"series": ' + b"[" * depth + b"]" * depth + b"}"):
        message = error(_raw_post(account, device, body), 400)
        assert message.startswith("body: not valid JSON") and "depth" in message, message
    assert stored(account, device) == []


def test_exactly_100000_points_and_100_series_are_taken(account: Account) -> None:
    device = account.device()
    series = [{"mappingConfig": LOAD, "data": points("2022-05-18T00:00:00Z", 1000)}] * 99
    series.append({"mappingConfig": CURRENT_L3, "data": points("2022-05-18T00:00:00Z", 1000)})
    answer = account.sent(device, series)
    assert (answer["accepted"], answer["rejected"]) == (100_000, 0)
    assert len(stored(account, device)) == len(stored(account, device, CURRENT_L3)) == 1000


def _token(account: Account) -> str:
    base = str(account.api.base_url).rstrip("/")
    answer = httpx.post(
        f"{base}/realms/sodata/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": ids.ADMIN_EMAIL,
            "password": DEMO_PASSWORD,
        },
    )
    return ok(answer)["access_token"]


def test_a_body_over_32_mib_is_a_413(account: Account) -> None:
    device = account.device()
    path = f"{account.base}/devices/{device}/datapoints"
    # announced: refused before the body is read
    address = urlsplit(str(account.api.base_url))
    with socket.create_connection((address.hostname, address.port), timeout=30) as conn:
        conn.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
                f"Authorization: Bearer {_token(account)}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {40 * MIB}\r\n\r\n"
            ).encode()
        )
        answer = read_answer(conn)
    assert answer.startswith("HTTP/1.1 413"), answer[:300]
    assert "32 MiB" in answer, answer

    # streamed without a length: refused once 32 MiB have come
    point = b'{"at": "2022-05-18T00:00:00Z", "value": 1},'

    def chunks() -> Iterator[bytes]:
        yield b'{"series": [{"mappingConfig": "Global|0|140100", "data": ['
        for _ in range(33):
            yield point * (MIB // len(point))
        yield b'{"at": "2022-05-18T00:00:00Z", "value": 1}]}]}'

    answer = account.api.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert "32 MiB" in error(answer, 413)
    assert stored(account, device) == []


def test_timestamps_with_and_without_offsets(account: Account) -> None:
    device = account.device()
    data = [
        {"at": "2022-05-18T02:00:00+02:00", "value": 1},
        {"at": "2022-05-17T19:30:00-05:00", "value": 2},  # 00:30Z
        {"at": "2022-05-18T06:15:00+05:30", "value": 3},  # 00:45Z
        {"at": "2022-05-18T01:00:00", "value": 4},  # no offset: UTC
        {"at": "2022-05-18T01:15:00.5Z", "value": 5},
        {"at": "2022-05-18T01:30:00.250+00:00", "value": 6},
    ]
    assert account.sent(device, [{"mappingConfig": LOAD, "data": data}])["accepted"] == 6
    assert account.read({"deviceUuid": device, "mappingConfig": LOAD})["data"] == [
        {"at": "2022-05-18T00:00:00Z", "value": 1},
        {"at": "2022-05-18T00:30:00Z", "value": 2},
        {"at": "2022-05-18T00:45:00Z", "value": 3},
        {"at": "2022-05-18T01:00:00Z", "value": 4},
        {"at": "2022-05-18T01:15:00.500Z", "value": 5},
        {"at": "2022-05-18T01:30:00.250Z", "value": 6},
    ]
