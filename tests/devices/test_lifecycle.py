"""A device's life: pre-created, linked, deactivated, activated, its profile pushed and repaired."""

from __future__ import annotations

import httpx

from sodata.demo.ids import DELPHYS_TYPE, MASTERYS_TYPE
from tests import factories

# The Delphys GP profile: 42 Global variables and 6 Unit variables (src/sodata/catalog/data.py).
DELPHYS_PROFILE = 48


def variables(api: httpx.Client, ca: str, device: str) -> list[dict]:
    r = api.get(f"/api/v1/ca/{ca}/devices/{device}/variables")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["results"])
    return body["results"]


def logged(api: httpx.Client, ca: str, device: str, action: str) -> int:
    r = api.get(f"/api/v1/ca/{ca}/logs", params={"objectUuid": device, "action": action})
    assert r.status_code == 200, r.text
    return r.json()["total"]


def test_pre_create_link_deactivate_activate(api: httpx.Client, ca: str, customer: str) -> None:
    site = factories.site(api, ca, customer, timeZone="Europe/Paris")
    devices = f"/api/v1/ca/{ca}/devices"
    sn = factories.serial()

    pre = api.post(
        f"{devices}/pre-create",
        json={
            "serialNumber": sn,
            "deviceTypeUid": str(DELPHYS_TYPE),
            "name": "Delphys GP2 - 160 kVA",
        },
    )
    assert pre.status_code == 201, pre.text
    device = pre.json()
    url = f"{devices}/{device['uuid']}"
    assert (device["status"], device["creationType"], device["siteUuid"]) == (
        "PENDING",
        "PRE_CREATED",
        None,
    )
    assert variables(api, ca, device["uuid"]) == []
    assert logged(api, ca, device["uuid"], "DEVICE_PRE_CREATED") == 1

    # a device in no site can be neither activated, nor given its profile, nor shared, nor moved
    not_yet = api.put(f"{url}/activate")
    assert not_yet.status_code == 409 and "link it first" in not_yet.json()["message"]
    assert api.put(f"{url}/push-profile").status_code == 409
    assert api.put(f"{url}/repair").status_code == 409
    assert api.post(f"{url}/share/{site['uuid']}").status_code == 409
    assert api.put(url, json={"siteUuid": site["uuid"]}).status_code == 409
    assert api.get(url).json()["status"] == "PENDING"

    linked = api.post(
        f"{devices}/link", json={"serialNumber": sn, "activationKey": site["activationKey"]}
    )
    assert linked.status_code == 200, linked.text
    device = linked.json()
    assert device["uuid"] == pre.json()["uuid"] and device["name"] == "Delphys GP2 - 160 kVA"
    assert (device["status"], device["creationType"]) == ("ACCEPTED", "LINKED")
    assert device["siteUuid"] == site["uuid"] and device["timeZone"] == "Europe/Paris"
    assert device["profileIsUpToDate"] is True
    assert len(variables(api, ca, device["uuid"])) == DELPHYS_PROFILE
    assert logged(api, ca, device["uuid"], "DEVICE_LINKED") == 1
    assert api.get(f"/api/v1/ca/{ca}/sites/{site['uuid']}").json()["devicesQuantity"] == 1

    off = api.put(f"{url}/deactivate")
    assert off.status_code == 200 and off.json()["status"] == "DEACTIVATED"
    assert api.get(url).json()["status"] == "DEACTIVATED"
    assert api.put(f"{url}/deactivate").json()["status"] == "DEACTIVATED"
    assert logged(api, ca, device["uuid"], "DEVICE_DEACTIVATED") == 1  # only changes are logged

    on = api.put(f"{url}/activate")
    assert on.status_code == 200 and on.json()["status"] == "ACCEPTED"
    assert logged(api, ca, device["uuid"], "DEVICE_ACTIVATED") == 1
    assert on.json()["creationType"] == "LINKED"


def test_a_pending_device_may_be_deactivated(api: httpx.Client, ca: str, customer: str) -> None:
    devices = f"/api/v1/ca/{ca}/devices"
    sn = factories.serial()
    pre = api.post(
        f"{devices}/pre-create", json={"serialNumber": sn, "deviceTypeUid": str(MASTERYS_TYPE)}
    ).json()
    off = api.put(f"{devices}/{pre['uuid']}/deactivate")
    assert off.status_code == 200 and off.json()["status"] == "DEACTIVATED"
    assert api.put(f"{devices}/{pre['uuid']}/activate").status_code == 409
    # linking attaches it but does not undo the deactivation
    site = factories.site(api, ca, customer)
    linked = api.post(
        f"{devices}/link", json={"serialNumber": sn, "activationKey": site["activationKey"]}
    )
    assert linked.status_code == 200, linked.text
    assert (linked.json()["status"], linked.json()["siteUuid"]) == ("DEACTIVATED", site["uuid"])
    assert api.put(f"{devices}/{pre['uuid']}/activate").json()["status"] == "ACCEPTED"


def test_repair_and_push_profile(api: httpx.Client, ca: str, customer: str) -> None:
    site = factories.site(api, ca, customer)
    devices = f"/api/v1/ca/{ca}/devices"
    device = factories.device(api, ca, site["uuid"], DELPHYS_TYPE)
    url = f"{devices}/{device['uuid']}"
    profile = variables(api, ca, device["uuid"])
    assert len(profile) == DELPHYS_PROFILE and all(v["source"] == "PROFILE" for v in profile)
    deleted, tuned = profile[0], profile[1]
    default_polling = tuned["pollingTime"]

    tune = api.put(f"{url}/variables/{tuned['uuid']}", json={"pollingTime": default_polling + 240})
    assert tune.status_code == 200, tune.text
    assert api.delete(f"{url}/variables/{deleted['uuid']}").status_code == 204
    assert api.get(url).json()["profileIsUpToDate"] is False
    assert len(variables(api, ca, device["uuid"])) == DELPHYS_PROFILE - 1

    repaired = api.put(f"{url}/repair")
    assert repaired.status_code == 200, repaired.text
    assert (
        repaired.json()["uuid"] == device["uuid"] and repaired.json()["profileIsUpToDate"] is True
    )
    after_repair = {v["uuid"]: v for v in variables(api, ca, device["uuid"])}
    assert len(after_repair) == DELPHYS_PROFILE and deleted["uuid"] not in after_repair
    assert (
        after_repair[tuned["uuid"]]["pollingTime"] == default_polling + 240
    )  # repair keeps settings
    assert logged(api, ca, device["uuid"], "DEVICE_REPAIRED") == 1

    pushed = api.put(f"{url}/push-profile")
    assert pushed.status_code == 200 and pushed.json()["profileIsUpToDate"] is True
    after_push = {v["uuid"]: v for v in variables(api, ca, device["uuid"])}
    assert len(after_push) == DELPHYS_PROFILE
    assert after_push[tuned["uuid"]]["pollingTime"] == default_polling  # push-profile resets them
    assert logged(api, ca, device["uuid"], "DEVICE_PROFILE_PUSHED") == 1


def test_repair_all_devices(api: httpx.Client, ca: str, customer: str) -> None:
    site = factories.site(api, ca, customer)
    devices = f"/api/v1/ca/{ca}/devices"
    broken = [factories.device(api, ca, site["uuid"], DELPHYS_TYPE) for _ in range(2)]
    healthy = factories.device(api, ca, site["uuid"], DELPHYS_TYPE)
    for device, count in zip(broken, (1, 2), strict=True):
        for variable in variables(api, ca, device["uuid"])[:count]:
            api.delete(
                f"{devices}/{device['uuid']}/variables/{variable['uuid']}"
            ).raise_for_status()

    r = api.put(f"{devices}/repair-devices")
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["devices"]) == sorted(d["uuid"] for d in broken)
    assert body["repairedDevices"] == 2 and body["createdVariables"] == 3
    for device in (*broken, healthy):
        assert api.get(f"{devices}/{device['uuid']}").json()["profileIsUpToDate"] is True
        assert len(variables(api, ca, device["uuid"])) == DELPHYS_PROFILE
    assert api.put(f"{devices}/repair-devices").json() == {
        "repairedDevices": 0,
        "devices": [],
        "createdVariables": 0,
    }


def test_delete_removes_variables_and_shares(api: httpx.Client, ca: str, customer: str) -> None:
    home, guest = factories.site(api, ca, customer), factories.site(api, ca, customer)
    devices = f"/api/v1/ca/{ca}/devices"
    device = factories.device(api, ca, home["uuid"], DELPHYS_TYPE)
    api.post(f"{devices}/{device['uuid']}/share/{guest['uuid']}").raise_for_status()
    variable = variables(api, ca, device["uuid"])[0]

    assert api.delete(f"{devices}/{device['uuid']}").status_code == 204
    assert api.get(f"{devices}/{device['uuid']}/variables").status_code == 404
    assert api.get(f"{devices}/{device['uuid']}/variables/{variable['uuid']}").status_code == 404
    assert api.get(f"/api/v1/ca/{ca}/sites/{guest['uuid']}").json()["devicesQuantity"] == 0
    assert logged(api, ca, device["uuid"], "DEVICE_DELETED") == 1
