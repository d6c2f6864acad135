"""One-line builders of test objects through the API (tests share one server, so each
test makes its own objects with unique names).

Parents may be given as the dict the API answered or as their uuid string."""

from __future__ import annotations

import httpx

from sodata.demo.ids import MASTERYS_TYPE
from tests.conftest import unique


def created(response: httpx.Response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def uuid_of(obj: dict | str) -> str:
    return obj if isinstance(obj, str) else obj["uuid"]


def serial() -> str:
    """A serial number no other test uses."""
    return unique("SN").replace(" ", "-")


def corporate_account(api: httpx.Client, **fields) -> dict:
    return created(api.post("/api/v1/ca", json={"name": unique("CA"), **fields}))


def customer(api: httpx.Client, ca: dict | str, **fields) -> dict:
    return created(
        api.post(f"/api/v1/ca/{uuid_of(ca)}/customers", json={"name": unique("Customer"), **fields})
    )


def site(api: httpx.Client, ca: dict | str, cust: dict | str, **fields) -> dict:
    body = {"name": unique("Site"), "customerUuid": uuid_of(cust), **fields}
    return created(api.post(f"/api/v1/ca/{uuid_of(ca)}/sites", json=body))


def device(
    api: httpx.Client,
    ca: dict | str,
    in_site: dict | str,
    type_uid: object = MASTERYS_TYPE,
    **fields,
) -> dict:
    """A device created in a site (ACCEPTED, its type's profile applied)."""
    body = {
        "name": unique("Device"),
        "serialNumber": serial(),
        "siteUuid": uuid_of(in_site),
        "deviceTypeUid": str(type_uid),
        **fields,
    }
    return created(api.post(f"/api/v1/ca/{uuid_of(ca)}/devices", json=body))


def access_group(api: httpx.Client, ca: dict | str, **fields) -> dict:
    return created(
        api.post(
            f"/api/v1/ca/{uuid_of(ca)}/data-access-groups",
            json={"name": unique("DAG"), **fields},
        )
    )
