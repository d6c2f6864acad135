"""The device endpoints of spec 5.6.2: CRUD, lists, gateways, shares, icons and errors."""

from __future__ import annotations

import io
import re
import uuid

import httpx
from PIL import Image

from sodata.demo.ids import (
    DELPHYS_TYPE,
    GATEWAY_TYPE,
    MASTERYS_TYPE,
    METER_TYPE,
    OTHER_EMAIL,
    SOLINK,
    VIEWER_EMAIL,
)
from tests import factories
from tests.conftest import client_as
from tests.spec_keys import SPEC_DEVICE_KEYS

# The fields of the spec's example body (5.6.3), contact and address aside.
FIELDS = SPEC_DEVICE_KEYS - {"contact", "address"}


def devices(ca: str) -> str:
    return f"/api/v1/ca/{ca}/devices"


def png(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def site_quantity(api: httpx.Client, ca: str, site: str) -> int:
    return api.get(f"/api/v1/ca/{ca}/sites/{site}").json()["devicesQuantity"]


def test_create_device_answers_the_spec_fields(api: httpx.Client, ca: str, site: dict) -> None:
    sn = factories.serial()
    r = api.post(
        devices(ca),
        json={
            "name": "Masterys U2 CDS",
            "serialNumber": sn,
            "siteUuid": site["uuid"],
            "deviceTypeUid": str(MASTERYS_TYPE),
            "technicalName": "MASTERIS_U2_CDS",
            "contractNumber": "Contract XXX",
            "custom": {"socomec": {"deviceID": sn, "nomPowerKVA": "20000"}},
            "longitude": 7.59328,
            "latitude": 48.3729,
        },
    )
    assert r.status_code == 201, r.text
    device = r.json()
    assert set(device) == FIELDS | {"contact", "address"}  # a change answers the whole device
    assert device["contact"] is None and device["address"] is None
    assert device["serialNumber"] == sn
    assert device["status"] == "ACCEPTED" and device["creationType"] == "CREATED"
    assert device["deviceTypeUid"] == str(MASTERYS_TYPE)
    assert device["deviceTypeReferenceId"] == "9204"
    assert (device["manufacturer"], device["modelName"]) == ("Socomec", "Masterys")
    assert device["configurationKey"] == "SOCOMEDEVICELCONNECT_001"
    assert device["timeZone"] == "Europe/Paris"  # the site's zone
    assert device["siteUuid"] == site["uuid"] and device["owned"] is True
    assert device["profileIsUpToDate"] is True
    assert (
        device["gatewayUuid"] is None and device["gatewayId"] is None and device["iconUuid"] is None
    )
    assert device["custom"] == {"socomec": {"deviceID": sn, "nomPowerKVA": "20000"}}
    assert (device["longitude"], device["latitude"]) == (7.59328, 48.3729)
    assert device["mappingMode"] == "SERVICE_ID" and device["storageName"] == "DataHub"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", device["createdAt"])

    again = api.get(f"{devices(ca)}/{device['uuid']}")
    assert again.status_code == 200
    assert again.json() == {k: v for k, v in device.items() if k not in ("contact", "address")}
    assert (
        api.get(f"{devices(ca)}/{device['uuid']}", params={"detailsLevel": "ALL"}).json() == device
    )


def test_create_device_takes_an_explicit_time_zone(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(api, ca, site["uuid"], timeZone="Asia/Tokyo")
    assert device["timeZone"] == "Asia/Tokyo"
    r = api.post(
        devices(ca),
        json={
            "name": "x",
            "serialNumber": factories.serial(),
            "siteUuid": site["uuid"],
            "deviceTypeUid": str(MASTERYS_TYPE),
            "timeZone": "Mars/Olympus",
        },
    )
    assert r.status_code == 400 and "timeZone" in r.json()["message"]


def test_contact_and_address_only_when_asked(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(
        api,
        ca,
        site["uuid"],
        contact={"name": "Frédéric MORICE", "email": "f@example.com", "useParent": True},
        address={"street": "1 Rue de Westhouse", "city": "Benfeld", "country": "FRANCE"},
    )
    assert (
        device["contact"]["email"] == "f@example.com" and device["address"]["country"] == "FRANCE"
    )
    url = f"{devices(ca)}/{device['uuid']}"
    plain = api.get(url).json()
    assert "contact" not in plain and "address" not in plain
    both = api.get(url, params={"detailsLevel": "ALL"}).json()
    assert both["contact"]["name"] == "Frédéric MORICE" and both["contact"]["useParent"] is True
    assert both["address"]["city"] == "Benfeld"
    only_contact = api.get(url, params={"withContact": "true"}).json()
    assert "contact" in only_contact and "address" not in only_contact
    listed = api.get(
        devices(ca),
        params={
            "serialNumber": device["serialNumber"],
            "withContact": "true",
            "withAddress": "true",
        },
    ).json()["results"]
    assert (
        listed[0]["address"]["street"] == "1 Rue de Westhouse"
        and listed[0]["contact"]["email"] == "f@example.com"
    )
    plain = api.get(devices(ca), params={"serialNumber": device["serialNumber"]}).json()["results"][
        0
    ]
    assert "contact" not in plain and "address" not in plain


def test_list_filters_and_sorts(api: httpx.Client, ca: str, customer: str) -> None:
    own_site = factories.site(api, ca, customer)
    other_customer = factories.customer(api, ca)["uuid"]
    far_site = factories.site(api, ca, other_customer)
    a = factories.device(api, ca, own_site["uuid"], serialNumber="A-" + factories.serial())
    b = factories.device(
        api, ca, own_site["uuid"], METER_TYPE, serialNumber="B-" + factories.serial()
    )
    far = factories.device(api, ca, far_site["uuid"])

    in_site = api.get(
        devices(ca), params={"siteUuid": own_site["uuid"], "sortBy": "serialNumber"}
    ).json()
    assert in_site["total"] == 2 and in_site["take"] == 50
    assert [d["uuid"] for d in in_site["results"]] == [a["uuid"], b["uuid"]]
    assert all(d["owned"] for d in in_site["results"])
    desc = api.get(
        devices(ca), params={"siteUuid": own_site["uuid"], "sortBy": "-serialNumber"}
    ).json()
    assert [d["uuid"] for d in desc["results"]] == [b["uuid"], a["uuid"]]

    by_customer = api.get(devices(ca), params={"customerUuid": other_customer}).json()
    assert [d["uuid"] for d in by_customer["results"]] == [far["uuid"]]

    exact = api.get(devices(ca), params={"serialNumber": a["serialNumber"]}).json()
    assert [d["uuid"] for d in exact["results"]] == [a["uuid"]]
    partial = api.get(devices(ca), params={"serialNumber": a["serialNumber"][:-1]}).json()
    assert partial["total"] == 0

    everything = api.get(devices(ca), params={"take": 1000}).json()
    listed = {d["uuid"] for d in everything["results"]}
    assert {a["uuid"], b["uuid"], far["uuid"]} <= listed and everything["take"] == 1000
    paged = api.get(devices(ca), params={"take": 1, "skip": 1, "sortBy": "createdAt"}).json()
    assert paged["total"] == everything["total"] and len(paged["results"]) == 1

    counted = api.get(devices(ca), params={"siteUuid": own_site["uuid"], "take": 0}).json()
    assert counted == {"total": 2, "results": [], "take": 0}

    api.put(f"{devices(ca)}/{a['uuid']}/deactivate").raise_for_status()
    deactivated = api.get(
        devices(ca), params={"siteUuid": own_site["uuid"], "status": "DEACTIVATED"}
    ).json()
    assert [d["uuid"] for d in deactivated["results"]] == [a["uuid"]]
    accepted = api.get(
        devices(ca), params={"siteUuid": own_site["uuid"], "status": "ACCEPTED"}
    ).json()
    assert [d["uuid"] for d in accepted["results"]] == [b["uuid"]]


def test_list_refuses_bad_parameters(api: httpx.Client, ca: str) -> None:
    for params in (
        {"sortBy": "colour"},
        {"take": 1001},
        {"skip": -1},
        {"siteUuid": "not-a-uuid"},
        {"status": "SLEEPING"},
        {"detailsLevel": "SOME"},
    ):
        r = api.get(devices(ca), params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["statusCode"] == 400 and r.json()["message"]
    assert "serialNumber" in api.get(devices(ca), params={"sortBy": "colour"}).json()["message"]


def test_update_is_partial(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(api, ca, site["uuid"], description="kept", location="Room 1")
    url = f"{devices(ca)}/{device['uuid']}"
    r = api.put(
        url,
        json={
            "name": "Renamed",
            "tags": ["ups", "north"],
            "locked": True,
            "noCommunicationPeriod": 120,
        },
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert (
        updated["name"] == "Renamed"
        and updated["tags"] == ["ups", "north"]
        and updated["locked"] is True
    )
    assert updated["noCommunicationPeriod"] == 120
    assert updated["description"] == "kept" and updated["location"] == "Room 1"
    assert (
        updated["serialNumber"] == device["serialNumber"]
        and updated["createdAt"] == device["createdAt"]
    )
    # a client may send back what it read; read-only fields are ignored
    echoed = api.put(
        url, json={**updated, "status": "PENDING", "manufacturer": "Other", "description": "new"}
    )
    assert echoed.status_code == 200, echoed.text
    assert echoed.json()["status"] == "ACCEPTED" and echoed.json()["manufacturer"] == "Socomec"
    assert echoed.json()["description"] == "new"
    assert api.get(url).json()["name"] == "Renamed"


def test_update_refuses_bad_input(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(api, ca, site["uuid"])
    other = factories.device(api, ca, site["uuid"])
    url = f"{devices(ca)}/{device['uuid']}"
    cases = [
        ({"name": None}, 400, "name"),
        ({"colour": "red"}, 400, "colour"),
        ({"timeZone": "Nowhere/Town"}, 400, "timeZone"),
        ({"latitude": 91}, 400, "latitude"),
        ({"frequencyStatus": 0}, 400, "frequencyStatus"),
        ({"name": "x" * 256}, 400, "name"),
        ({"siteUuid": str(uuid.uuid4())}, 400, "siteUuid"),
        ({"siteUuid": None}, 400, "siteUuid"),
        ({"gatewayUuid": str(uuid.uuid4())}, 400, "gatewayUuid"),
        ({"serialNumber": other["serialNumber"]}, 409, "serialNumber"),
    ]
    for body, status, field in cases:
        r = api.put(url, json=body)
        assert r.status_code == status, (body, r.text)
        assert field in r.json()["message"], (body, r.text)
    assert (
        api.put(url, content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 400
    )
    assert api.get(url, params={"detailsLevel": "ALL"}).json() == device


def test_move_to_another_site(api: httpx.Client, ca: str, customer: str) -> None:
    first, second = factories.site(api, ca, customer), factories.site(api, ca, customer)
    device = factories.device(api, ca, first["uuid"])
    r = api.put(f"{devices(ca)}/{device['uuid']}", json={"siteUuid": second["uuid"]})
    assert r.status_code == 200, r.text
    assert r.json()["siteUuid"] == second["uuid"]
    assert (
        site_quantity(api, ca, first["uuid"]) == 0 and site_quantity(api, ca, second["uuid"]) == 1
    )


def test_gateway_of_a_device(api: httpx.Client, ca: str, site: dict) -> None:
    gateway = factories.device(api, ca, site["uuid"], GATEWAY_TYPE)
    ups = factories.device(api, ca, site["uuid"], DELPHYS_TYPE, gatewayUuid=gateway["uuid"])
    assert ups["gatewayUuid"] == gateway["uuid"] and isinstance(ups["gatewayId"], int)
    r = api.get(f"{devices(ca)}/{ups['uuid']}/gateway")
    assert r.status_code == 200 and r.json()["uuid"] == gateway["uuid"]
    assert r.json()["deviceTypeReferenceId"] == "9100"

    no_gateway = api.get(f"{devices(ca)}/{gateway['uuid']}/gateway")
    assert no_gateway.status_code == 404
    assert no_gateway.json()["message"] == f"Device {gateway['uuid']} has no gateway"

    not_a_gateway = api.put(f"{devices(ca)}/{gateway['uuid']}", json={"gatewayUuid": ups["uuid"]})
    assert not_a_gateway.status_code == 400 and "not a gateway" in not_a_gateway.json()["message"]
    itself = api.put(f"{devices(ca)}/{gateway['uuid']}", json={"gatewayUuid": gateway["uuid"]})
    assert itself.status_code == 400 and "gatewayUuid" in itself.json()["message"]

    detached = api.put(f"{devices(ca)}/{ups['uuid']}", json={"gatewayUuid": None})
    assert detached.status_code == 200 and detached.json()["gatewayUuid"] is None
    assert detached.json()["gatewayId"] is None


def test_gateway_of_another_account_is_refused(api: httpx.Client, ca: str, site: dict) -> None:
    other_ca = factories.corporate_account(api)["uuid"]
    other_site = factories.site(api, other_ca, factories.customer(api, other_ca))
    foreign = factories.device(api, other_ca, other_site, GATEWAY_TYPE)
    r = api.post(
        devices(ca),
        json={
            "name": "x",
            "serialNumber": factories.serial(),
            "siteUuid": site["uuid"],
            "deviceTypeUid": str(MASTERYS_TYPE),
            "gatewayUuid": foreign["uuid"],
        },
    )
    assert r.status_code == 400 and "gatewayUuid" in r.json()["message"]
    # and the foreign device does not exist through this account's path
    assert api.get(f"{devices(ca)}/{foreign['uuid']}").status_code == 404
    assert api.put(f"{devices(ca)}/{foreign['uuid']}", json={"name": "stolen"}).status_code == 404
    assert api.delete(f"{devices(ca)}/{foreign['uuid']}").status_code == 404
    assert (
        api.get(f"/api/v1/ca/{other_ca}/devices/{foreign['uuid']}").json()["name"]
        == foreign["name"]
    )


def test_create_refuses_bad_input(api: httpx.Client, ca: str, site: dict) -> None:
    base = {
        "name": "x",
        "serialNumber": factories.serial(),
        "siteUuid": site["uuid"],
        "deviceTypeUid": str(MASTERYS_TYPE),
    }
    cases = [
        ({k: v for k, v in base.items() if k != "serialNumber"}, "serialNumber"),
        ({**base, "deviceTypeUid": str(uuid.uuid4())}, "deviceTypeUid"),
        ({**base, "deviceTypeUid": "9204"}, "deviceTypeUid"),
        ({**base, "siteUuid": str(uuid.uuid4())}, "siteUuid"),
        ({**base, "serialNumber": "  "}, "serialNumber"),
        ({**base, "serialNumber": "S" * 65}, "serialNumber"),
        ({**base, "frequencyStream": "often"}, "frequencyStream"),
    ]
    for body, field in cases:
        r = api.post(devices(ca), json=body)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["message"], (body, r.text)
    assert api.get(devices(ca), params={"serialNumber": base["serialNumber"]}).json()["total"] == 0


def test_serial_number_is_unique_in_the_account(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(api, ca, site["uuid"])
    r = api.post(
        devices(ca),
        json={
            "name": "twin",
            "serialNumber": device["serialNumber"],
            "siteUuid": site["uuid"],
            "deviceTypeUid": str(MASTERYS_TYPE),
        },
    )
    assert r.status_code == 409 and "serialNumber" in r.json()["message"]
    pre = api.post(
        f"{devices(ca)}/pre-create",
        json={"serialNumber": device["serialNumber"], "deviceTypeUid": str(MASTERYS_TYPE)},
    )
    assert pre.status_code == 409


def test_unknown_and_malformed_devices(api: httpx.Client, ca: str) -> None:
    missing = uuid.uuid4()
    for method, suffix in [
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("PUT", "/activate"),
        ("PUT", "/deactivate"),
        ("PUT", "/push-profile"),
        ("PUT", "/repair"),
        ("GET", "/gateway"),
        ("GET", "/icon"),
    ]:
        r = api.request(
            method, f"{devices(ca)}/{missing}{suffix}", json={} if method == "PUT" else None
        )
        assert r.status_code == 404, (method, suffix, r.text)
        assert r.json()["message"] == f"Device {missing} not found"
    malformed = api.get(f"{devices(ca)}/not-a-uuid")
    assert malformed.status_code == 400 and "deviceUuid" in malformed.json()["message"]
    unknown_ca = api.get(f"/api/v1/ca/{uuid.uuid4()}/devices")
    assert unknown_ca.status_code == 404


def test_delete_device(api: httpx.Client, ca: str, customer: str) -> None:
    here = factories.site(api, ca, customer)
    gateway = factories.device(api, ca, here["uuid"], GATEWAY_TYPE)
    child = factories.device(api, ca, here["uuid"], gatewayUuid=gateway["uuid"])
    api.put(
        f"{devices(ca)}/{gateway['uuid']}/icon",
        content=png(),
        headers={"content-type": "image/png"},
    )
    assert site_quantity(api, ca, here["uuid"]) == 2

    r = api.delete(f"{devices(ca)}/{gateway['uuid']}")
    assert r.status_code == 204 and r.content == b""
    assert api.get(f"{devices(ca)}/{gateway['uuid']}").status_code == 404
    assert api.delete(f"{devices(ca)}/{gateway['uuid']}").status_code == 404
    orphan = api.get(f"{devices(ca)}/{child['uuid']}").json()
    assert orphan["gatewayUuid"] is None and orphan["gatewayId"] is None
    assert site_quantity(api, ca, here["uuid"]) == 1
    # the serial number is free again
    factories.device(api, ca, here["uuid"], GATEWAY_TYPE, serialNumber=gateway["serialNumber"])


def test_share_and_cancel_sharing(api: httpx.Client, ca: str, customer: str) -> None:
    home, guest = factories.site(api, ca, customer), factories.site(api, ca, customer)
    device = factories.device(api, ca, home["uuid"])
    share = f"{devices(ca)}/{device['uuid']}/share"

    r = api.post(f"{share}/{guest['uuid']}")
    assert r.status_code == 201, r.text
    assert r.json()["deviceUuid"] == device["uuid"] and r.json()["siteUuid"] == guest["uuid"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r.json()["createdAt"])

    in_guest = api.get(devices(ca), params={"siteUuid": guest["uuid"]}).json()
    assert [(d["uuid"], d["owned"]) for d in in_guest["results"]] == [(device["uuid"], False)]
    assert in_guest["results"][0]["siteUuid"] == home["uuid"]
    in_home = api.get(devices(ca), params={"siteUuid": home["uuid"]}).json()
    assert [(d["uuid"], d["owned"]) for d in in_home["results"]] == [(device["uuid"], True)]
    assert site_quantity(api, ca, guest["uuid"]) == 1 and site_quantity(api, ca, home["uuid"]) == 1

    assert api.post(f"{share}/{guest['uuid']}").status_code == 409
    own = api.post(f"{share}/{home['uuid']}")
    assert own.status_code == 400 and "own site" in own.json()["message"]
    assert api.post(f"{share}/{uuid.uuid4()}").status_code == 404
    assert api.post(f"{share}/nope").status_code == 400

    cancelled = api.delete(f"{share}/{guest['uuid']}")
    assert cancelled.status_code == 204
    assert api.get(devices(ca), params={"siteUuid": guest["uuid"]}).json()["total"] == 0
    assert site_quantity(api, ca, guest["uuid"]) == 0
    assert api.delete(f"{share}/{guest['uuid']}").status_code == 404


def test_moving_a_device_into_a_site_it_is_shared_with(
    api: httpx.Client, ca: str, customer: str
) -> None:
    home, guest = factories.site(api, ca, customer), factories.site(api, ca, customer)
    device = factories.device(api, ca, home["uuid"])
    api.post(f"{devices(ca)}/{device['uuid']}/share/{guest['uuid']}").raise_for_status()
    api.put(f"{devices(ca)}/{device['uuid']}", json={"siteUuid": guest["uuid"]}).raise_for_status()
    listed = api.get(devices(ca), params={"siteUuid": guest["uuid"]}).json()
    assert [(d["uuid"], d["owned"]) for d in listed["results"]] == [(device["uuid"], True)]
    assert site_quantity(api, ca, guest["uuid"]) == 1 and site_quantity(api, ca, home["uuid"]) == 0


def test_icons(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(api, ca, site["uuid"])
    icon = f"{devices(ca)}/{device['uuid']}/icon"
    assert api.get(icon).status_code == 404

    image = png()
    r = api.put(icon, files={"file": ("icon.png", image, "image/png")})
    assert r.status_code == 200, r.text
    first_icon = r.json()["iconUuid"]
    assert first_icon is not None
    got = api.get(icon)
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/png"

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="JPEG")
    raw = api.put(icon, content=buffer.getvalue(), headers={"content-type": "image/jpeg"})
    assert raw.status_code == 200 and raw.json()["iconUuid"] not in (None, first_icon)
    assert api.get(icon).headers["content-type"] == "image/jpeg"

    text = api.put(icon, files={"file": ("icon.png", b"hello, not an image", "image/png")})
    assert text.status_code == 415
    huge = api.put(
        icon, content=b"\x89PNG" + b"\0" * (1024 * 1024 + 1), headers={"content-type": "image/png"}
    )
    assert huge.status_code == 413
    assert api.get(icon).content == buffer.getvalue()  # the refused uploads changed nothing


def test_pre_create(api: httpx.Client, ca: str) -> None:
    sn = factories.serial()
    r = api.post(
        f"{devices(ca)}/pre-create", json={"serialNumber": sn, "deviceTypeUid": str(DELPHYS_TYPE)}
    )
    assert r.status_code == 201, r.text
    device = r.json()
    assert set(device) == FIELDS | {"contact", "address"}
    assert device["status"] == "PENDING" and device["creationType"] == "PRE_CREATED"
    assert device["siteUuid"] is None and device["name"] == sn and device["modelName"] == "Delphys"
    assert device["timeZone"] == "UTC"
    named = api.post(
        f"{devices(ca)}/pre-create",
        json={
            "serialNumber": factories.serial(),
            "deviceTypeUid": str(DELPHYS_TYPE),
            "name": "Delphys GP2 - 160 kVA",
        },
    )
    assert named.status_code == 201 and named.json()["name"] == "Delphys GP2 - 160 kVA"
    pending = api.get(devices(ca), params={"status": "PENDING", "serialNumber": sn}).json()
    assert [d["uuid"] for d in pending["results"]] == [device["uuid"]]

    for body, field in [
        ({"serialNumber": factories.serial()}, "deviceTypeUid"),
        ({"serialNumber": factories.serial(), "deviceTypeUid": str(uuid.uuid4())}, "deviceTypeUid"),
        (
            {
                "serialNumber": factories.serial(),
                "deviceTypeUid": str(DELPHYS_TYPE),
                "siteUuid": str(uuid.uuid4()),
            },
            "siteUuid",
        ),
    ]:
        bad = api.post(f"{devices(ca)}/pre-create", json=body)
        assert bad.status_code == 400 and field in bad.json()["message"], bad.text


def test_link_refuses_what_it_cannot_link(api: httpx.Client, ca: str, customer: str) -> None:
    closed = factories.site(
        api, ca, customer, autoProductsRegistration=False, autoGatewaysRegistration=False
    )
    open_site = factories.site(api, ca, customer)
    link = f"{devices(ca)}/link"

    wrong_key = api.post(
        link,
        json={
            "serialNumber": factories.serial(),
            "activationKey": str(uuid.uuid4()),
            "deviceTypeUid": str(MASTERYS_TYPE),
        },
    )
    assert wrong_key.status_code == 400 and wrong_key.json()["message"].startswith(
        "activationKey: no site"
    )

    no_type = api.post(
        link, json={"serialNumber": factories.serial(), "activationKey": open_site["activationKey"]}
    )
    assert no_type.status_code == 400 and "deviceTypeUid" in no_type.json()["message"]

    refused = api.post(
        link,
        json={
            "serialNumber": factories.serial(),
            "activationKey": closed["activationKey"],
            "deviceTypeUid": str(MASTERYS_TYPE),
        },
    )
    assert refused.status_code == 409 and "autoProductsRegistration" in refused.json()["message"]
    refused_gw = api.post(
        link,
        json={
            "serialNumber": factories.serial(),
            "activationKey": closed["activationKey"],
            "deviceTypeUid": str(GATEWAY_TYPE),
        },
    )
    assert (
        refused_gw.status_code == 409 and "autoGatewaysRegistration" in refused_gw.json()["message"]
    )

    placed = factories.device(api, ca, open_site["uuid"])
    elsewhere = api.post(
        link,
        json={"serialNumber": placed["serialNumber"], "activationKey": closed["activationKey"]},
    )
    assert elsewhere.status_code == 409 and "PUT" in elsewhere.json()["message"]

    unknown_gw = api.post(
        link,
        json={
            "serialNumber": factories.serial(),
            "activationKey": open_site["activationKey"],
            "deviceTypeUid": str(MASTERYS_TYPE),
            "gatewaySerialNumber": factories.serial(),
        },
    )
    assert unknown_gw.status_code == 400 and "gatewaySerialNumber" in unknown_gw.json()["message"]

    pre = api.post(
        f"{devices(ca)}/pre-create",
        json={"serialNumber": factories.serial(), "deviceTypeUid": str(MASTERYS_TYPE)},
    ).json()
    other_type = api.post(
        link,
        json={
            "serialNumber": pre["serialNumber"],
            "activationKey": open_site["activationKey"],
            "deviceTypeUid": str(METER_TYPE),
        },
    )
    assert other_type.status_code == 409 and "deviceTypeUid" in other_type.json()["message"]
    assert api.get(f"{devices(ca)}/{pre['uuid']}").json()["status"] == "PENDING"
    assert site_quantity(api, ca, closed["uuid"]) == 0


def test_link_registers_unknown_devices(api: httpx.Client, ca: str, customer: str) -> None:
    only_gateways = factories.site(
        api, ca, customer, autoProductsRegistration=False, timeZone="Europe/Berlin"
    )
    link = f"{devices(ca)}/link"
    gw_serial = factories.serial()
    r = api.post(
        link,
        json={
            "serialNumber": gw_serial,
            "activationKey": only_gateways["activationKey"],
            "deviceTypeUid": str(GATEWAY_TYPE),
            "name": "IoT gateway",
        },
    )
    assert r.status_code == 201, r.text
    gateway = r.json()
    assert (gateway["status"], gateway["creationType"]) == ("ACCEPTED", "LINKED")
    assert gateway["siteUuid"] == only_gateways["uuid"] and gateway["name"] == "IoT gateway"
    assert gateway["timeZone"] == "Europe/Berlin" and gateway["profileIsUpToDate"] is True

    again = api.post(
        link, json={"serialNumber": gw_serial, "activationKey": only_gateways["activationKey"]}
    )
    assert again.status_code == 200 and again.json()["uuid"] == gateway["uuid"]

    api.put(
        f"/api/v1/ca/{ca}/sites/{only_gateways['uuid']}", json={"autoProductsRegistration": True}
    ).raise_for_status()
    meter = api.post(
        link,
        json={
            "serialNumber": factories.serial(),
            "activationKey": only_gateways["activationKey"],
            "deviceTypeUid": str(METER_TYPE),
            "gatewaySerialNumber": gw_serial,
        },
    )
    assert meter.status_code == 201, meter.text
    assert (
        meter.json()["gatewayUuid"] == gateway["uuid"]
        and meter.json()["name"] == meter.json()["serialNumber"]
    )

    not_gateway = api.post(
        link,
        json={
            "serialNumber": factories.serial(),
            "activationKey": only_gateways["activationKey"],
            "deviceTypeUid": str(METER_TYPE),
            "gatewaySerialNumber": meter.json()["serialNumber"],
        },
    )
    assert not_gateway.status_code == 400 and "not a gateway" in not_gateway.json()["message"]
    assert site_quantity(api, ca, only_gateways["uuid"]) == 2


def test_repair_devices_answer(api: httpx.Client) -> None:
    ca = factories.corporate_account(api)["uuid"]  # its own: other tests break profiles
    factories.device(api, ca, factories.site(api, ca, factories.customer(api, ca)))
    r = api.put(f"{devices(ca)}/repair-devices")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"repairedDevices", "devices", "createdVariables"}
    assert body["repairedDevices"] == len(body["devices"])
    # every device got its profile at creation, so nothing needs repair
    assert body == {"repairedDevices": 0, "devices": [], "createdVariables": 0}


def logged(api: httpx.Client, ca: str, obj: str, action: str) -> list[dict]:
    params = {"objectUuid": obj, "action": action}
    r = api.get(f"/api/v1/ca/{ca}/logs", params=params)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_filters_naming_an_unknown_parent_are_a_400(
    api: httpx.Client, ca: str, customer: str, site: dict
) -> None:
    other = factories.corporate_account(api)
    foreign_customer = factories.customer(api, other)
    foreign_site = factories.site(api, other, foreign_customer)
    sites = f"/api/v1/ca/{ca}/sites"
    for unknown_site in (str(uuid.uuid4()), foreign_site["uuid"]):
        r = api.get(devices(ca), params={"siteUuid": unknown_site})
        assert r.status_code == 400, r.text
        assert r.json()["message"] == f"siteUuid: no site {unknown_site} in this corporate account"
    for unknown_customer in (str(uuid.uuid4()), foreign_customer["uuid"]):
        expected = f"customerUuid: no customer {unknown_customer} in this corporate account"
        for url in (devices(ca), sites, f"{sites}/count"):
            r = api.get(url, params={"customerUuid": unknown_customer})
            assert r.status_code == 400, (url, r.text)
            assert r.json()["message"] == expected, url
    # known parents still filter
    assert api.get(devices(ca), params={"siteUuid": site["uuid"]}).status_code == 200
    assert api.get(devices(ca), params={"customerUuid": customer}).status_code == 200
    counted = api.get(f"{sites}/count", params={"customerUuid": customer}).json()["count"]
    listed = api.get(sites, params={"customerUuid": customer, "take": 1000}).json()
    assert counted == listed["total"] >= 1
    assert {s["customerUuid"] for s in listed["results"]} == {customer}


def test_an_update_that_changes_nothing_is_not_logged(
    api: httpx.Client, ca: str, site: dict
) -> None:
    gateway = factories.device(api, ca, site, GATEWAY_TYPE)
    device = factories.device(
        api,
        ca,
        site,
        description="kept",
        gatewayUuid=gateway["uuid"],
        address={"city": "Benfeld", "country": "FRANCE"},
    )
    url = f"{devices(ca)}/{device['uuid']}"
    same = [
        {"description": "kept"},
        {"siteUuid": site["uuid"], "gatewayUuid": gateway["uuid"]},
        {"address": {"city": "Benfeld"}},
        {"serialNumber": device["serialNumber"], "tags": None},
        api.get(url, params={"detailsLevel": "ALL"}).json(),  # sent back as read
    ]
    for body in same:
        r = api.put(url, json=body)
        assert r.status_code == 200, (body, r.text)
    assert logged(api, ca, device["uuid"], "DEVICE_UPDATED") == []
    assert api.get(url, params={"detailsLevel": "ALL"}).json() == device

    api.put(url, json={"description": "new", "name": device["name"]}).raise_for_status()
    api.put(url, json={"address": {"city": "Paris"}, "gatewayUuid": None}).raise_for_status()
    entries = logged(api, ca, device["uuid"], "DEVICE_UPDATED")
    assert [e["details"] for e in entries] == [
        {"fields": ["address", "gateway_uuid"]},
        {"fields": ["description"]},
    ]


def test_a_batch_of_variables_is_logged_once(api: httpx.Client, ca: str, site: dict) -> None:
    device = factories.device(api, ca, site)
    batch = f"/api/v1/ca/{ca}/batch-devices/{device['uuid']}/variables"
    body = [
        {"itemType": "Load", "itemIndex": "0", "serviceId": "140100"},
        {"itemType": "Load", "itemIndex": "1", "serviceId": "140100"},
    ]
    r = api.post(batch, json=body)
    assert r.status_code == 201, r.text
    added = [v["uuid"] for v in r.json()["results"]]
    (entry,) = logged(api, ca, device["uuid"], "VARIABLES_CREATED")
    assert entry["details"] == {"count": 2, "variables": added}
    assert entry["objectType"] == "Device" and "2 variable(s)" in entry["message"]

    changes = [{"uuid": added[0], "label": "changed"}, {"uuid": added[1]}]
    api.put(batch, json=changes).raise_for_status()
    api.put(batch, json=changes).raise_for_status()  # changes nothing the second time
    (entry,) = logged(api, ca, device["uuid"], "VARIABLES_UPDATED")
    assert entry["details"] == {"count": 1, "variables": [added[0]]}
    params = {"objectUuid": added[0], "action": "VARIABLE_UPDATED"}
    assert api.get(f"/api/v1/ca/{ca}/logs", params=params).json()["total"] == 0


def test_openapi_documents_the_devices(api: httpx.Client) -> None:
    paths = api.get("/swagger-api-json/v1").json()["paths"]
    base = "/api/v1/ca/{corporateAccountUuid}/devices"
    expected = {
        ("delete", base + "/{deviceUuid}"): "Delete a device",
        ("delete", base + "/{deviceUuid}/share/{siteUuid}"): "Cancel sharing",
        ("get", base): "Get the pagination for devices",
        ("get", base + "/{deviceUuid}/gateway"): "Get parent gateway from device UUID",
        ("get", base + "/{deviceUuid}"): "Get device by UUID",
        ("get", base + "/{deviceUuid}/icon"): "Get device icon image",
        ("post", base): "Create a new device",
        ("post", base + "/pre-create"): "Pre-create a new device",
        ("post", base + "/link"): "Link a new device",
        ("put", base + "/{deviceUuid}"): "Update a device",
        ("put", base + "/{deviceUuid}/icon"): "Update a device icon",
        ("put", base + "/repair-devices"): "Repair all devices",
        ("put", base + "/{deviceUuid}/activate"): "Activate a device",
        ("put", base + "/{deviceUuid}/deactivate"): "Deactivate a device",
        ("put", base + "/{deviceUuid}/push-profile"): "Push the profile",
        ("put", base + "/{deviceUuid}/repair"): "Repair a device",
        ("post", base + "/{deviceUuid}/share/{siteUuid}"): "Share a device with a site",
    }
    for (method, path), summary in expected.items():
        assert paths[path][method]["summary"] == summary
    repaired = paths[base + "/repair-devices"]["put"]["responses"]["200"]["content"][
        "application/json"
    ]
    assert repaired["schema"]["$ref"].endswith("/DevicesRepaired")


def test_list_searches_by_name_or_serial_number(
    api: httpx.Client, ca: str, site: dict, other_site: dict
) -> None:
    token = uuid.uuid4().hex[:8]
    north = factories.device(api, ca, site, name=f"Pump {token} North")
    south = factories.device(api, ca, other_site, name=f"Pump {token} SOUTH 100%")
    by_serial = factories.device(api, ca, site, serialNumber=f"SN-{token}-X_9")

    def found(text: str, **params: object) -> tuple[int, list[str]]:
        page = api.get(devices(ca), params={"name": text, **params}).json()
        return page["total"], [d["uuid"] for d in page["results"]]

    # a part of the name in another case; total counts the matches, take applies after
    assert found(f"pUmP {token}", sortBy="name") == (2, [north["uuid"], south["uuid"]])
    assert found(f"pump {token}", take=1, skip=1, sortBy="name") == (2, [south["uuid"]])
    assert found(f"{token} south") == (1, [south["uuid"]])
    # or a part of the serial number, in another case
    assert found(f"sn-{token}-x") == (1, [by_serial["uuid"]])
    assert found(token, sortBy="createdAt")[0] == 3
    # with the other filters
    assert found(token, siteUuid=site["uuid"], sortBy="createdAt") == (
        2,
        [north["uuid"], by_serial["uuid"]],
    )
    # % and _ are matched literally, not as LIKE wildcards
    assert found(f"{token} south 100%") == (1, [south["uuid"]])
    assert found(f"{token}-x_9") == (1, [by_serial["uuid"]])
    assert found(f"{token}%") == (0, [])
    assert found(f"{token}_") == (0, [])


def test_a_name_search_stays_inside_what_the_caller_sees(server, api: httpx.Client) -> None:
    """Every member of an account sees its devices (access.data: the data access groups limit
    who reads their data, not who sees them), so a viewer finds by name what his own list
    holds, a device outside his group included; a non-member finds nothing."""
    url = devices(str(SOLINK))
    with client_as(server, VIEWER_EMAIL) as viewer, client_as(server, OTHER_EMAIL) as other:
        listed = viewer.get(url, params={"take": 1000, "sortBy": "createdAt"}).json()["results"]
        expected = [
            d["uuid"]
            for d in listed
            if "zurich" in f"{d['name'] or ''} {d['serialNumber']}".lower()
        ]
        assert expected  # Delphys BC 200 kVA - Zurich, in the group SoLink EUROPE only
        page = viewer.get(url, params={"name": "ZURICH", "sortBy": "createdAt"}).json()
        assert (page["total"], [d["uuid"] for d in page["results"]]) == (len(expected), expected)
        assert other.get(url, params={"name": "zurich"}).status_code == 404


def test_readable_lists_only_the_devices_whose_data_the_caller_may_read(
    server, api: httpx.Client
) -> None:
    every = api.get(devices(str(SOLINK)), params={"take": 1000}).json()
    # an admin of the account reads every device's data
    assert (
        api.get(devices(str(SOLINK)), params={"readable": "true"}).json()["total"]
        == (every["total"])
    )
    with client_as(server, VIEWER_EMAIL) as viewer:
        seen = viewer.get(devices(str(SOLINK)), params={"take": 1000}).json()
        readable = viewer.get(
            devices(str(SOLINK)), params={"readable": "true", "take": 1000}
        ).json()
        assert seen["total"] == every["total"]  # objects: every member sees them all
        assert 0 < readable["total"] == len(readable["results"]) < seen["total"]
        inside = {d["uuid"] for d in readable["results"]}
        # exactly the devices whose last values he may read
        for device in seen["results"]:
            status = viewer.get(f"{devices(str(SOLINK))}/{device['uuid']}/last-values")
            assert status.status_code == (200 if device["uuid"] in inside else 404), device["name"]
        # with the other filters
        named = viewer.get(
            devices(str(SOLINK)), params={"readable": "true", "name": "Sydney"}
        ).json()
        assert named["total"] == sum("Sydney" in d["name"] for d in readable["results"])


def test_gateway_uuid_lists_the_devices_behind_a_gateway(api: httpx.Client) -> None:
    every = api.get(devices(str(SOLINK)), params={"take": 1000}).json()["results"]
    gateway = next(d for d in every if d["name"] == "IoT Gateway")
    behind = api.get(devices(str(SOLINK)), params={"gatewayUuid": gateway["uuid"]}).json()
    assert behind["total"] > 0
    assert sorted(d["uuid"] for d in behind["results"]) == sorted(
        d["uuid"] for d in every if d["gatewayUuid"] == gateway["uuid"]
    )
    unknown = api.get(devices(str(SOLINK)), params={"gatewayUuid": str(uuid.uuid4())})
    assert unknown.status_code == 400 and "gatewayUuid" in unknown.json()["message"]
