import uuid

from sodata.demo import ids
from tests import factories

ITEM_KEYS = {
    "uuid",
    "id",
    "deviceUuid",
    "itemType",
    "index",
    "name",
    "custom",
    "variablesQuantity",
    "createdAt",
}


def new_device(api, ca, type_uuid=ids.DELPHYS_TYPE, **fields):
    """A device of `type_uuid` in a new site of `ca`."""
    site = factories.site(api, ca, factories.customer(api, ca))
    return factories.device(api, ca, site, type_uuid, **fields)


def items_url(ca, device):
    return f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}/items"


def test_items_of_a_device_follow_the_profile(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    answer = api.get(items_url(ca, device)).json()
    assert set(answer) == {"results", "total"} and answer["total"] == 2
    global_, unit = answer["results"]
    assert set(global_) == ITEM_KEYS
    assert (global_["itemType"], global_["index"], unit["itemType"], unit["index"]) == (
        "Global",
        "0",
        "Unit",
        "0",
    )
    profile = api.get(f"/api/v1/device-types/{ids.DELPHYS_TYPE}").json()["profile"]
    assert unit["variablesQuantity"] == sum(e["itemType"] == "Unit" for e in profile)
    assert global_["variablesQuantity"] == sum(e["itemType"] == "Global" for e in profile)
    assert global_["deviceUuid"] == device["uuid"] and global_["createdAt"].endswith("Z")
    assert api.get(f"{items_url(ca, device)}/{unit['uuid']}").json() == unit
    variables = api.get(
        f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}/variables", params={"itemType": "Unit"}
    )
    assert {v["itemUuid"] for v in variables.json()["results"]} == {unit["uuid"]}
    assert {v["itemId"] for v in variables.json()["results"]} == {unit["id"]}


def test_add_update_delete_an_item(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url = items_url(ca, device)
    r = api.post(
        url, json={"itemType": "Load", "index": "2", "name": "Load 3", "custom": {"phase": 3}}
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert set(item) == ITEM_KEYS
    assert (
        item["itemType"],
        item["index"],
        item["name"],
        item["custom"],
        item["variablesQuantity"],
    ) == ("Load", "2", "Load 3", {"phase": 3}, 0)
    assert api.get(f"{url}/{item['uuid']}").json() == item
    assert api.get(url).json()["total"] == 3
    r = api.post(url, json={"itemType": "Load", "index": 2})
    assert r.status_code == 409 and "Load|2" in r.json()["message"]
    assert api.post(url, json={"itemType": "Load", "index": 1}).status_code == 201

    r = api.put(
        f"{url}/{item['uuid']}", json={"name": "Third load", "itemType": "Unit", "index": "7"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["itemType"], r.json()["index"], r.json()["custom"]) == (
        "Third load",
        "Load",
        "2",
        {"phase": 3},
    )
    back = api.put(f"{url}/{item['uuid']}", json={**r.json(), "custom": None})
    assert (
        back.status_code == 200
        and back.json()["custom"] is None
        and back.json()["name"] == "Third load"
    )

    # a variable added on the item is counted, and goes with it
    variables = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}/variables"
    variable = api.post(
        variables, json={"itemType": "Load", "itemIndex": "2", "serviceId": "140100"}
    ).json()
    assert variable["itemUuid"] == item["uuid"]
    assert api.get(f"{url}/{item['uuid']}").json()["variablesQuantity"] == 1
    assert api.delete(f"{url}/{item['uuid']}").status_code == 204
    assert api.get(f"{url}/{item['uuid']}").status_code == 404
    assert api.get(f"{variables}/{variable['uuid']}").status_code == 404
    assert api.get(url).json()["total"] == 3
    # only user variables went: the profile is still complete
    assert (
        api.get(f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}").json()["profileIsUpToDate"]
        is True
    )


def test_deleting_a_profile_item_makes_the_profile_out_of_date(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    device_url = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}"
    unit = [i for i in api.get(items_url(ca, device)).json()["results"] if i["itemType"] == "Unit"][
        0
    ]
    before = api.get(f"{device_url}/variables").json()["total"]
    assert api.delete(f"{items_url(ca, device)}/{unit['uuid']}").status_code == 204
    assert api.get(f"{device_url}/variables").json()["total"] == before - unit["variablesQuantity"]
    assert api.get(f"{device_url}/variables", params={"itemType": "Unit"}).json()["total"] == 0
    assert api.get(device_url).json()["profileIsUpToDate"] is False
    assert api.put(f"{device_url}/repair").status_code == 200
    assert api.get(f"{device_url}/variables").json()["total"] == before
    assert api.get(device_url).json()["profileIsUpToDate"] is True


def test_bad_input(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url = items_url(ca, device)
    cases = [
        ({"index": "0"}, "itemType: is required"),
        ({"itemType": "Load"}, "index: is required"),
        ({"itemType": "Load", "index": "first"}, "index"),
        ({"itemType": "Load", "index": -1}, "index"),
        ({"itemType": "Lo ad", "index": 0}, "itemType"),
        ({"itemType": "Load", "index": 0, "name": "a\u0000b"}, "NUL"),
        ({"itemType": "Load", "index": 0, "colour": "red"}, "colour: is not a known field"),
    ]
    for body, expected in cases:
        r = api.post(url, json=body)
        assert r.status_code == 400 and expected in r.json()["message"], (body, r.text)
    assert api.get(url).json()["total"] == 2
    item = api.get(url).json()["results"][0]
    r = api.put(f"{url}/{item['uuid']}", json={"custom": "not an object"})
    assert r.status_code == 400 and "custom" in r.json()["message"]
    assert api.get(f"{url}/not-a-uuid").status_code == 400


def test_items_of_other_devices_are_not_found(api):
    ca, other_ca = factories.corporate_account(api), factories.corporate_account(api)
    device, sibling, foreign = new_device(api, ca), new_device(api, ca), new_device(api, other_ca)
    url = items_url(ca, device)
    sibling_item = api.get(items_url(ca, sibling)).json()["results"][0]
    for item_uuid in (uuid.uuid4(), sibling_item["uuid"]):
        r = api.get(f"{url}/{item_uuid}")
        assert r.status_code == 404 and r.json()["message"] == f"Item {item_uuid} not found"
        assert api.put(f"{url}/{item_uuid}", json={"name": "x"}).status_code == 404
        assert api.delete(f"{url}/{item_uuid}").status_code == 404
    assert api.get(f"{items_url(ca, sibling)}/{sibling_item['uuid']}").status_code == 200
    foreign_url = items_url(ca, foreign)
    r = api.get(foreign_url)
    assert r.status_code == 404 and r.json()["message"] == f"Device {foreign['uuid']} not found"
    assert api.post(foreign_url, json={"itemType": "Load", "index": 0}).status_code == 404
    foreign_item = api.get(items_url(other_ca, foreign)).json()["results"][0]
    assert api.get(f"{foreign_url}/{foreign_item['uuid']}").status_code == 404
    assert api.delete(f"{foreign_url}/{foreign_item['uuid']}").status_code == 404
    assert api.get(items_url(other_ca, foreign)).json()["total"] == 2
