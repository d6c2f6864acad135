"""An own corporate account with a customer and two sites for the device tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sodata.demo.ids import MASTERYS_TYPE
from tests.conftest import unique


def make_site(api: httpx.Client, ca: str, customer: str, **fields: Any) -> dict:
    body = {"name": unique("Site"), "customerUuid": customer, **fields}
    r = api.post(f"/api/v1/ca/{ca}/sites", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def make_device(
    api: httpx.Client, ca: str, site: str, type_uid: object = MASTERYS_TYPE, **fields: Any
) -> dict:
    body = {
        "name": unique("Device"),
        "serialNumber": unique("SN").replace(" ", "-"),
        "siteUuid": site,
        "deviceTypeUid": str(type_uid),
        **fields,
    }
    r = api.post(f"/api/v1/ca/{ca}/devices", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def serial() -> str:
    return unique("SN").replace(" ", "-")


@pytest.fixture(scope="module")
def ca(api: httpx.Client) -> str:
    r = api.post("/api/v1/ca", json={"name": unique("Devices CA")})
    assert r.status_code == 201, r.text
    return r.json()["uuid"]


@pytest.fixture(scope="module")
def customer(api: httpx.Client, ca: str) -> str:
    r = api.post(f"/api/v1/ca/{ca}/customers", json={"name": unique("Customer")})
    assert r.status_code == 201, r.text
    return r.json()["uuid"]


@pytest.fixture(scope="module")
def site(api: httpx.Client, ca: str, customer: str) -> dict:
    return make_site(api, ca, customer, timeZone="Europe/Paris")


@pytest.fixture(scope="module")
def other_site(api: httpx.Client, ca: str, customer: str) -> dict:
    return make_site(api, ca, customer, timeZone="America/New_York")
