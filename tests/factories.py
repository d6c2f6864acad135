"""One-line builders of test objects through the API (tests share one server, so each
test makes its own objects with unique names)."""

from __future__ import annotations

import httpx

from tests.conftest import unique


def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def corporate_account(api: httpx.Client, **fields) -> dict:
    return created(api.post("/api/v1/ca", json={"name": unique("CA"), **fields}))


def customer(api: httpx.Client, ca: dict, **fields) -> dict:
    return created(
        api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": unique("Customer"), **fields})
    )


def site(api: httpx.Client, ca: dict, cust: dict, **fields) -> dict:
    body = {"name": unique("Site"), "customerUuid": cust["uuid"], **fields}
    return created(api.post(f"/api/v1/ca/{ca['uuid']}/sites", json=body))
