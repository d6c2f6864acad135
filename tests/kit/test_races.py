"""Concurrent requests on the same objects, as a fuzzer found them: a change racing a delete
answers 404 or 409 (never a 500), and two gateway changes racing each other never leave a
cycle. Each race runs many times, against the real server on both backends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from sodata.demo.ids import GATEWAY_TYPE
from tests import factories
from tests.conftest import Server

ROUNDS = 20
RACERS = 2


@pytest.fixture(scope="module")
def ca(api: httpx.Client) -> str:
    return factories.corporate_account(api)["uuid"]


@pytest.fixture(scope="module")
def site(api: httpx.Client, ca: str) -> dict:
    return factories.site(api, ca, factories.customer(api, ca))


@pytest.fixture(scope="module")
def clients(server: Server, api: httpx.Client) -> Iterator[list[httpx.Client]]:
    """One connection per racer, all signed in as the admin (its sign-in, renewed when the
    token expires: a slow machine takes longer than a token's 5 minutes over this module)."""
    racers = [httpx.Client(base_url=server.url, timeout=60, auth=api.auth) for _ in range(RACERS)]
    yield racers
    for client in racers:
        client.close()


def race(clients: list[httpx.Client], *calls: Callable[[httpx.Client], httpx.Response]) -> list:
    """Sends the calls at the same instant, each on its own connection; their responses."""
    start = threading.Barrier(len(calls))
    answers: list[httpx.Response | BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            answers[i] = calls[i](clients[i])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for answer in answers:
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code < 500, answer.text
    return answers


def _status(answer: httpx.Response, *allowed: int) -> None:
    assert answer.status_code in allowed, (answer.status_code, answer.text)
    if answer.status_code == 409:
        assert "another request" in answer.json()["message"]


@pytest.mark.parametrize("change", ["deactivate", "activate", "update", "delete"])
def test_a_device_change_racing_its_delete(
    api: httpx.Client, clients: list[httpx.Client], ca: str, site: dict, change: str
) -> None:
    devices = f"/api/v1/ca/{ca}/devices"
    for _ in range(ROUNDS):
        device = factories.device(api, ca, site)["uuid"]
        if change == "activate":
            assert api.put(f"{devices}/{device}/deactivate").status_code == 200

        def alter(c: httpx.Client, device: str = device) -> httpx.Response:
            if change == "delete":
                return c.delete(f"{devices}/{device}")
            if change == "update":
                return c.put(f"{devices}/{device}", json={"name": factories.unique("Renamed")})
            return c.put(f"{devices}/{device}/{change}")

        deleted, altered = race(clients, lambda c, d=device: c.delete(f"{devices}/{d}"), alter)
        if change == "delete":  # one of them deletes it; the other finds it deleted or gone
            assert 204 in (deleted.status_code, altered.status_code)
            _status(deleted, 204, 404, 409)
            _status(altered, 204, 404, 409)
        else:
            _status(deleted, 204)
            _status(altered, 200, 404, 409)
        assert api.get(f"{devices}/{device}").status_code == 404


def test_an_item_change_racing_its_delete(
    api: httpx.Client, clients: list[httpx.Client], ca: str, site: dict
) -> None:
    device = factories.device(api, ca, site)["uuid"]
    items = f"/api/v1/ca/{ca}/devices/{device}/items"
    listed = api.get(items).json()["results"]
    assert listed, "the device type's profile gives the device items"
    for index in range(100, 100 + ROUNDS):
        item = factories.created(
            api.post(
                items,
                json={
                    "name": factories.unique("Item"),
                    "itemType": listed[0]["itemType"],
                    "index": index,
                },
            )
        )["uuid"]
        deleted, altered = race(
            clients,
            lambda c, i=item: c.delete(f"{items}/{i}"),
            lambda c, i=item: c.put(f"{items}/{i}", json={"name": factories.unique("Renamed")}),
        )
        _status(deleted, 204)
        _status(altered, 200, 404, 409)
        assert api.get(f"{items}/{item}").status_code == 404


def test_a_variable_change_racing_its_delete(
    api: httpx.Client, clients: list[httpx.Client], ca: str, site: dict
) -> None:
    for _ in range(ROUNDS):
        variables = f"/api/v1/ca/{ca}/devices/{factories.device(api, ca, site)['uuid']}/variables"
        variable = f"{variables}/{api.get(variables).json()['results'][0]['uuid']}"
        deleted, altered = race(
            clients,
            lambda c, v=variable: c.delete(v),
            lambda c, v=variable: c.put(v, json={"label": "Renamed"}),
        )
        _status(deleted, 204)
        _status(altered, 200, 404, 409)
        assert api.get(variable).status_code == 404


def _gateway(api: httpx.Client, devices: str, device: str) -> str | None:
    return api.get(f"{devices}/{device}").json()["gatewayUuid"]


def test_two_gateways_made_each_others_gateway_at_once(
    api: httpx.Client, clients: list[httpx.Client], ca: str, site: dict
) -> None:
    devices = f"/api/v1/ca/{ca}/devices"
    both = 0
    for _ in range(ROUNDS):
        a, b = (factories.device(api, ca, site, GATEWAY_TYPE)["uuid"] for _ in range(2))
        to_b, to_a = race(
            clients,
            lambda c, a=a, b=b: c.put(f"{devices}/{a}", json={"gatewayUuid": b}),
            lambda c, a=a, b=b: c.put(f"{devices}/{b}", json={"gatewayUuid": a}),
        )
        assert sorted([to_b.status_code, to_a.status_code]) == [200, 400], (to_b.text, to_a.text)
        refused = to_b if to_b.status_code == 400 else to_a
        assert "cannot be its own gateway" in refused.json()["message"]
        gateways = (_gateway(api, devices, a), _gateway(api, devices, b))
        assert gateways in ((b, None), (None, a)), "exactly the accepted change is stored"
        both += 1
    assert both == ROUNDS


def test_a_three_device_cycle_raced_from_every_side(
    api: httpx.Client, server: Server, ca: str, site: dict
) -> None:
    """A -> B, B -> C and C -> A at once: at most two of them are accepted."""
    devices = f"/api/v1/ca/{ca}/devices"
    three = [httpx.Client(base_url=server.url, timeout=60, auth=api.auth) for _ in range(3)]
    try:
        for _ in range(ROUNDS // 2):
            ring = [factories.device(api, ca, site, GATEWAY_TYPE)["uuid"] for _ in range(3)]
            calls = [
                lambda c, d=ring[i], g=ring[(i + 1) % 3]: c.put(
                    f"{devices}/{d}", json={"gatewayUuid": g}
                )
                for i in range(3)
            ]
            answers = race(three, *calls)
            assert sorted(r.status_code for r in answers) == [200, 200, 400]
            stored = [_gateway(api, devices, d) for d in ring]
            assert stored.count(None) == 1, stored
    finally:
        for client in three:
            client.close()
