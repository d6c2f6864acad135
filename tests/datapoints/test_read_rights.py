"""Who reads which device's data, through PUT /datapoints and the last values: an account's
admins every device; other users the devices their data access groups reach; API clients
only as admins. A device whose data the caller may not read is a 404 that says what the 404
of a uuid naming nothing says.

The demo users read the demo devices (nothing is written there); the own-account cases use
members, groups and API clients the tests create."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sodata.demo import ids
from tests.conftest import Server, client_as
from tests.datapoints.wire import (
    API,
    LOAD,
    Account,
    error,
    ok,
    points,
    random_uuid,
    same_404,
)

SOLINK = f"{API}/ca/{ids.SOLINK}"
FR_GROUP = ids.demo_uuid("data-access-group", "SoLink FR")
DAY = {
    "from": "2022-05-18T00:00:00Z",
    "to": "2022-05-19T00:00:00Z",
    "timezone": "UTC",
    "useDeviceLocalTimezone": False,
    "granularity": "raw",
}


def query(series: list[dict[str, Any]]) -> dict[str, Any]:
    return {**DAY, "series": series}


def by_device(device: str) -> dict[str, Any]:
    return query([{"deviceUuid": device, "mappingConfig": LOAD}])


def by_variable(variable: str) -> dict[str, Any]:
    return query([{"variableUuid": variable}])


@pytest.fixture(scope="module")
def demo_clients(server: Server) -> Iterator[dict[str, httpx.Client]]:
    clients = {
        name: client_as(server, email)
        for name, email in (("viewer", ids.VIEWER_EMAIL), ("other", ids.OTHER_EMAIL))
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture(scope="module")
def outside_fr(api: httpx.Client) -> dict[str, str]:
    """A SoLink device outside the data access group SoLink FR (viewer@'s only group), and
    the uuid of one of its variables."""
    fr = ok(api.get(f"{SOLINK}/data-access-groups/{FR_GROUP}/customers", params={"take": 1000}))
    in_fr: set[str] = set()
    for customer in fr["results"]:
        params = {"customerUuid": customer["uuid"], "take": 1000}
        in_fr |= {d["uuid"] for d in ok(api.get(f"{SOLINK}/devices", params=params))["results"]}
    assert str(ids.DELPHYS_GP2) in in_fr and str(ids.MASTERYS_U2_CDS) in in_fr
    devices = ok(api.get(f"{SOLINK}/devices", params={"take": 1000}))["results"]
    device = next(d["uuid"] for d in devices if d["uuid"] not in in_fr and d["siteUuid"])
    variables = ok(api.get(f"{SOLINK}/devices/{device}/variables"))["results"]
    return {"device": device, "variable": variables[0]["uuid"]}


def test_viewer_reads_the_devices_of_its_group(
    api: httpx.Client, demo_clients: dict[str, httpx.Client]
) -> None:
    viewer = demo_clients["viewer"]
    delphys = str(ids.DELPHYS_GP2)
    mine = ok(viewer.put(f"{SOLINK}/datapoints", json=by_device(delphys)))
    assert mine == ok(api.put(f"{SOLINK}/datapoints", json=by_device(delphys)))
    assert mine["series"][0]["data"], "the demo history has this day"
    url = f"{SOLINK}/devices/{delphys}/last-values"
    last = ok(viewer.get(url))
    assert last == ok(api.get(url)) and last["devices"][0]["values"]
    both = {"deviceUuids": [str(ids.MASTERYS_U2_CDS), delphys]}
    assert ok(viewer.put(f"{SOLINK}/last-values", json=both)) == ok(
        api.put(f"{SOLINK}/last-values", json=both)
    )


def test_viewer_gets_404_outside_its_group(
    demo_clients: dict[str, httpx.Client], outside_fr: dict[str, str]
) -> None:
    viewer, random = demo_clients["viewer"], random_uuid()
    device, variable = outside_fr["device"], outside_fr["variable"]

    def datapoints(body: dict[str, Any]) -> httpx.Response:
        return viewer.put(f"{SOLINK}/datapoints", json=body)

    same_404(datapoints(by_device(device)), datapoints(by_device(random)), device, random)
    same_404(datapoints(by_variable(variable)), datapoints(by_variable(random)), variable, random)
    # one unreadable series among readable ones: the whole call is a 404
    mixed = query(
        [
            {"deviceUuid": str(ids.DELPHYS_GP2), "mappingConfig": LOAD},
            {"deviceUuid": device, "mappingConfig": LOAD},
        ]
    )
    assert error(datapoints(mixed), 404) == f"Device {device} not found"

    def last_values(uuid: str) -> httpx.Response:
        return viewer.get(f"{SOLINK}/devices/{uuid}/last-values")

    same_404(last_values(device), last_values(random), device, random)
    several = {"deviceUuids": [str(ids.DELPHYS_GP2), device]}
    assert error(viewer.put(f"{SOLINK}/last-values", json=several), 404) == (
        f"Device {device} not found"
    )


def test_other_reads_nothing_of_solink(demo_clients: dict[str, httpx.Client]) -> None:
    other, random = demo_clients["other"], random_uuid()
    delphys = str(ids.DELPHYS_GP2)
    missing = f"Corporate account {ids.SOLINK} not found"
    assert error(other.put(f"{SOLINK}/datapoints", json=by_device(delphys)), 404) == missing
    assert error(other.get(f"{SOLINK}/devices/{delphys}/last-values"), 404) == missing
    several = {"deviceUuids": [delphys]}
    assert error(other.put(f"{SOLINK}/last-values", json=several), 404) == missing
    # in its own account, naming SoLink's device or variable: as unknown as a random uuid
    mine = f"{API}/ca/{ids.ENERGY_STORAGE}"

    def datapoints(body: dict[str, Any]) -> httpx.Response:
        return other.put(f"{mine}/datapoints", json=body)

    same_404(datapoints(by_device(delphys)), datapoints(by_device(random)), delphys, random)
    overload = str(ids.MASTERYS_OVERLOAD_VARIABLE)
    same_404(datapoints(by_variable(overload)), datapoints(by_variable(random)), overload, random)
    same_404(
        other.get(f"{mine}/devices/{delphys}/last-values"),
        other.get(f"{mine}/devices/{random}/last-values"),
        delphys,
        random,
    )
    same_404(
        other.put(f"{mine}/last-values", json={"deviceUuids": [delphys]}),
        other.put(f"{mine}/last-values", json={"deviceUuids": [random]}),
        delphys,
        random,
    )


# --- the own account --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


def with_data(account: Account, site: str | None = None) -> str:
    device = account.device(site=site)
    series = [{"mappingConfig": LOAD, "data": points("2022-05-18T00:00:00Z", 3)}]
    assert account.sent(device, series)["accepted"] == 3
    return device


def reads(account: Account, client: httpx.Client, device: str) -> bool:
    """Whether `client` reads the device's data; a refusal is a 404 on every read."""
    answers = [
        client.put(f"{account.base}/datapoints", json=by_device(device)),
        client.get(f"{account.base}/devices/{device}/last-values"),
        client.put(f"{account.base}/last-values", json={"deviceUuids": [device]}),
    ]
    statuses = {a.status_code for a in answers}
    assert statuses in ({200}, {404}), [a.text for a in answers]
    if statuses == {404}:
        random = random_uuid()
        twin = client.put(f"{account.base}/datapoints", json=by_device(random))
        same_404(answers[0], twin, device, random)
        return False
    assert len(answers[0].json()["series"][0]["data"]) == 3
    assert answers[1].json()["devices"][0]["values"]
    return True


def test_api_clients_read_only_as_admins(account: Account) -> None:
    device = with_data(account)
    for role in ("viewer", "manager"):
        assert not reads(account, account.api_client(role), device), role
    assert reads(account, account.api_client("admin"), device)


def test_users_read_what_their_groups_reach(account: Account) -> None:
    """Through a customer of the group (every device of its sites), through a device of the
    group, and nothing once out of the group."""
    customer = account.customer
    other_customer = ok(
        account.api.post(f"{account.base}/customers", json={"name": random_uuid()}), 201
    )["uuid"]
    other_site = ok(
        account.api.post(
            f"{account.base}/sites",
            json={"name": random_uuid(), "customerUuid": other_customer, "timeZone": "UTC"},
        ),
        201,
    )["uuid"]
    of_customer = with_data(account)
    listed, hidden = with_data(account, other_site), with_data(account, other_site)
    user, client = account.member("viewer")
    manager, manager_client = account.member("manager")
    assert not reads(account, client, of_customer)
    assert not reads(account, manager_client, of_customer)
    group = account.access_group(customers=[customer], devices=[listed])
    for member in (user, manager):
        account.join(group, member)
    for member_client in (client, manager_client):
        assert reads(account, member_client, of_customer)
        assert reads(account, member_client, listed)
        assert not reads(account, member_client, hidden)
    ok(account.api.delete(f"{account.base}/data-access-groups/{group}/users/{user}"))
    assert not reads(account, client, of_customer) and not reads(account, client, listed)
    assert reads(account, manager_client, listed)
    _, admin = account.member("admin")
    assert all(reads(account, admin, d) for d in (of_customer, listed, hidden))
