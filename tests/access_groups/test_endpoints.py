import re
import uuid

from sodata.demo.ids import DEMO_EMAIL, METER_TYPE, OTHER_EMAIL, SOLINK, VIEWER_EMAIL, demo_uuid
from tests import factories
from tests.conftest import unique

DAG_KEYS = {
    "uuid",
    "name",
    "description",
    "countryCode",
    "technicalName",
    "corporateAccountUuid",
    "customersQuantity",
    "devicesQuantity",
    "usersQuantity",
    "createdAt",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def base(ca: dict) -> str:
    return f"/api/v1/ca/{ca['uuid']}/data-access-groups"


def names(api, ca: dict, **params) -> list[str]:
    return [g["name"] for g in api.get(base(ca), params=params).json()["results"]]


def counters(group: dict) -> tuple[int, int, int]:
    return group["customersQuantity"], group["devicesQuantity"], group["usersQuantity"]


def log_actions(api, ca: dict, group: dict, action: str | None = None) -> list[str]:
    params = {"objectUuid": group["uuid"], "take": 1000, **({"action": action} if action else {})}
    return [
        e["action"]
        for e in api.get(f"/api/v1/ca/{ca['uuid']}/logs", params=params).json()["results"]
    ]


def test_create_get_list_update_delete(api):
    ca = factories.corporate_account(api)
    g = factories.access_group(
        api, ca, name="SoLink FR", countryCode="fr", description="France", technicalName="SL_FR"
    )
    assert set(g) == DAG_KEYS
    assert (
        g["countryCode"] == "FR"
        and g["corporateAccountUuid"] == ca["uuid"]
        and counters(g) == (0, 0, 0)
    )
    assert TIMESTAMP.match(g["createdAt"])
    url = f"{base(ca)}/{g['uuid']}"
    assert api.get(url).json() == g
    factories.access_group(api, ca, name="SoLink GB", countryCode="GB")
    factories.access_group(api, ca, name="SoLink EUROPE", countryCode="EU")
    page = api.get(base(ca)).json()
    assert page["total"] == 3 and page["take"] == 50
    assert [x["name"] for x in page["results"]] == ["SoLink EUROPE", "SoLink FR", "SoLink GB"]
    assert names(api, ca, sortBy="-name", take=2) == ["SoLink GB", "SoLink FR"]
    assert names(api, ca, sortBy="createdAt")[0] == "SoLink FR"
    found = api.get(base(ca), params={"name": "link g"}).json()
    assert found["total"] == 1 and found["results"][0]["name"] == "SoLink GB"
    assert api.get(base(ca), params={"name": "%"}).json()["total"] == 0  # a literal, not a wildcard

    r = api.put(url, json={"description": "République française"})
    assert r.status_code == 200 and r.json()["description"] == "République française"
    assert r.json()["name"] == "SoLink FR" and r.json()["countryCode"] == "FR"
    assert api.put(url, json={"countryCode": None}).json()["countryCode"] is None
    assert (
        api.put(url, json={**g, "name": "SoLink France"}).json()["name"] == "SoLink France"
    )  # read-only ignored

    unchanged = api.put(url, json={"name": "SoLink France", "countryCode": "fr"})
    assert unchanged.status_code == 200  # changes nothing, so it is not logged below

    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(base(ca)).json()["total"] == 2
    assert log_actions(api, ca, g) == [
        "ACCESS_GROUP_DELETED",
        "ACCESS_GROUP_UPDATED",
        "ACCESS_GROUP_UPDATED",
        "ACCESS_GROUP_UPDATED",
        "ACCESS_GROUP_CREATED",
    ]


def test_bad_input(api):
    ca = factories.corporate_account(api)
    g = factories.access_group(api, ca)
    r = api.post(base(ca), json={"name": "x", "countryCode": "XX"})
    assert (
        r.status_code == 400
        and r.json()["message"].startswith("countryCode:")
        and "ISO 3166" in r.text
    )
    r = api.post(base(ca), json={"name": "x", "countryCode": "FRA"})
    assert r.status_code == 400 and "countryCode" in r.json()["message"]
    r = api.post(base(ca), json={"description": "no name"})
    assert r.status_code == 400 and r.json()["message"] == "name: is required"
    assert api.post(base(ca), json={"name": "   "}).status_code == 400
    r = api.post(base(ca), json={"name": "x", "colour": "red"})
    assert r.status_code == 400 and "colour" in r.json()["message"]
    assert api.post(base(ca), json={"name": "x", "technicalName": "t" * 256}).status_code == 400
    r = api.put(f"{base(ca)}/{g['uuid']}", json={"name": None})
    assert r.status_code == 400 and r.json()["message"].startswith("name: may not be null")
    r = api.get(base(ca), params={"sortBy": "colour"})
    assert r.status_code == 400 and "createdAt, name" in r.json()["message"]
    r = api.get(f"{base(ca)}/not-a-uuid")
    assert r.status_code == 400 and r.json()["message"].startswith(
        "dataAccessGroupUuid: must be a UUID"
    )
    assert api.get(f"{base(ca)}/{uuid.uuid4()}").status_code == 404


def test_names_are_unique_per_account(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    g = factories.access_group(api, ca)
    r = api.post(base(ca), json={"name": g["name"]})
    assert r.status_code == 409 and "name" in r.json()["message"]
    h = factories.access_group(api, ca)
    r = api.put(f"{base(ca)}/{h['uuid']}", json={"name": g["name"]})
    assert r.status_code == 409
    assert (
        api.put(f"{base(ca)}/{g['uuid']}", json={"name": g["name"]}).status_code == 200
    )  # its own name
    factories.access_group(api, other, name=g["name"])


def test_group_of_another_account_is_invisible(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    g = factories.access_group(api, other)
    cust = factories.customer(api, ca)
    for method, path in (
        ("GET", ""),
        ("PUT", ""),
        ("DELETE", ""),
        ("GET", "/customers"),
        ("PUT", f"/customers/{cust['uuid']}"),
        ("GET", "/devices"),
        ("GET", "/users"),
    ):
        r = api.request(
            method,
            f"{base(ca)}/{g['uuid']}{path}",
            json={} if method == "PUT" and not path else None,
        )
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["message"] == f"Data access group {g['uuid']} not found"
    assert api.get(f"{base(other)}/{g['uuid']}").status_code == 200
    assert api.get(base(ca)).json()["total"] == 0


def test_customers_membership(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    a, b = (
        factories.customer(api, ca, name="A " + unique("c")),
        factories.customer(api, ca, name="B " + unique("c")),
    )
    factories.site(api, ca, a)
    factories.site(api, ca, a)
    g = factories.access_group(api, ca)
    url = f"{base(ca)}/{g['uuid']}/customers"
    r = api.put(f"{url}/{a['uuid']}")
    assert r.status_code == 200 and set(r.json()) == DAG_KEYS and counters(r.json()) == (1, 0, 0)
    again = api.put(f"{url}/{a['uuid']}")
    assert again.status_code == 200 and counters(again.json()) == (1, 0, 0)  # idempotent
    assert log_actions(api, ca, g, "ACCESS_GROUP_CUSTOMER_ADDED") == ["ACCESS_GROUP_CUSTOMER_ADDED"]
    assert counters(api.put(f"{url}/{b['uuid']}").json()) == (2, 0, 0)

    page = api.get(url).json()
    assert page["total"] == 2 and [c["uuid"] for c in page["results"]] == [a["uuid"], b["uuid"]]
    assert page["results"][0]["sitesQuantity"] == 2 and "contact" not in page["results"][0]
    assert api.get(url, params={"detailsLevel": "ALL"}).json()["results"][0]["contact"] is None
    assert [c["uuid"] for c in api.get(url, params={"sortBy": "-name"}).json()["results"]] == [
        b["uuid"],
        a["uuid"],
    ]
    assert api.get(url, params={"take": 1, "skip": 1}).json()["results"][0]["uuid"] == b["uuid"]
    assert api.get(f"{base(ca)}/{g['uuid']}").json()["customersQuantity"] == 2
    assert api.get(base(ca)).json()["results"][0]["customersQuantity"] == 2

    r = api.delete(f"{url}/{a['uuid']}")
    assert r.status_code == 200 and counters(r.json()) == (1, 0, 0)
    r = api.delete(f"{url}/{a['uuid']}")
    assert r.status_code == 404 and "not a member" in r.json()["message"]
    assert [c["uuid"] for c in api.get(url).json()["results"]] == [b["uuid"]]
    assert log_actions(api, ca, g, "ACCESS_GROUP_CUSTOMER_REMOVED") == [
        "ACCESS_GROUP_CUSTOMER_REMOVED"
    ]

    foreign = factories.customer(api, other)
    for method in ("PUT", "DELETE"):
        r = api.request(method, f"{url}/{foreign['uuid']}")
        assert (
            r.status_code == 404 and r.json()["message"] == f"Customer {foreign['uuid']} not found"
        )
        assert api.request(method, f"{url}/{uuid.uuid4()}").status_code == 404
    assert api.put(f"{url}/nope").status_code == 400
    assert api.get(f"{base(ca)}/{g['uuid']}").json()["customersQuantity"] == 1


def test_deleting_a_member_customer_leaves_the_group(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca)
    g = factories.access_group(api, ca)
    api.put(f"{base(ca)}/{g['uuid']}/customers/{cust['uuid']}").raise_for_status()
    assert api.delete(f"/api/v1/ca/{ca['uuid']}/customers/{cust['uuid']}").status_code == 204
    assert api.get(f"{base(ca)}/{g['uuid']}").json()["customersQuantity"] == 0


def test_deleting_a_group_keeps_its_members(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca)
    g = factories.access_group(api, ca)
    api.put(f"{base(ca)}/{g['uuid']}/customers/{cust['uuid']}").raise_for_status()
    assert api.delete(f"{base(ca)}/{g['uuid']}").status_code == 204
    assert api.get(f"/api/v1/ca/{ca['uuid']}/customers/{cust['uuid']}").status_code == 200


def test_devices_membership_and_counters(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    a, b = factories.customer(api, ca), factories.customer(api, ca)
    a1, a2, b1 = factories.site(api, ca, a), factories.site(api, ca, a), factories.site(api, ca, b)
    da1, da2, db1 = (factories.device(api, ca, s, METER_TYPE) for s in (a1, a2, b1))
    g = factories.access_group(api, ca)
    group_url = f"{base(ca)}/{g['uuid']}"
    assert counters(api.put(f"{group_url}/customers/{a['uuid']}").json()) == (
        1,
        2,
        0,
    )  # every site of A
    r = api.put(f"{group_url}/devices/{da1['uuid']}")  # already in through A: counted once
    assert r.status_code == 200 and counters(r.json()) == (1, 2, 0)
    assert counters(api.put(f"{group_url}/devices/{da1['uuid']}").json()) == (1, 2, 0)
    assert counters(api.put(f"{group_url}/devices/{db1['uuid']}").json()) == (1, 3, 0)
    assert api.get(base(ca)).json()["results"][0]["devicesQuantity"] == 3

    page = api.get(f"{group_url}/devices", params={"sortBy": "name"}).json()
    assert page["total"] == 2  # the devices added one by one
    expected = sorted([da1, db1], key=lambda d: d["name"])
    assert page["results"] == [
        {
            "uuid": d["uuid"],
            "name": d["name"],
            "serialNumber": d["serialNumber"],
            "siteUuid": d["siteUuid"],
            "status": d["status"],
        }
        for d in expected
    ]
    assert counters(api.delete(f"{group_url}/customers/{a['uuid']}").json()) == (
        0,
        2,
        0,
    )  # da1, db1 stay
    assert counters(api.delete(f"{group_url}/devices/{da1['uuid']}").json()) == (0, 1, 0)
    assert api.delete(f"{group_url}/devices/{da2['uuid']}").status_code == 404  # never a member
    assert log_actions(api, ca, g, "ACCESS_GROUP_DEVICE_ADDED") == ["ACCESS_GROUP_DEVICE_ADDED"] * 2

    foreign_site = factories.site(api, other, factories.customer(api, other))
    foreign = factories.device(api, other, foreign_site, METER_TYPE)
    for method in ("PUT", "DELETE"):
        r = api.request(method, f"{group_url}/devices/{foreign['uuid']}")
        assert r.status_code == 404 and r.json()["message"] == f"Device {foreign['uuid']} not found"


def test_users_membership(api):
    """Demo users: viewer@ and demo@ are linked to SoLink, other@ is not."""
    viewer, demo = str(demo_uuid("user", VIEWER_EMAIL)), str(demo_uuid("user", DEMO_EMAIL))
    outsider = str(demo_uuid("user", OTHER_EMAIL))
    solink = {"uuid": str(SOLINK)}
    g = factories.access_group(api, solink)
    try:
        url = f"{base(solink)}/{g['uuid']}/users"
        r = api.put(f"{url}/{viewer}")
        assert r.status_code == 200 and counters(r.json()) == (0, 0, 1)
        assert counters(api.put(f"{url}/{viewer}").json()) == (0, 0, 1)  # idempotent
        assert counters(api.put(f"{url}/{demo}").json()) == (0, 0, 2)
        page = api.get(url).json()
        assert page["total"] == 2
        assert page["results"] == [
            {"uuid": demo, "email": DEMO_EMAIL, "name": "Demo User"},
            {"uuid": viewer, "email": VIEWER_EMAIL, "name": "Viewer User"},
        ]
        for unknown in (outsider, str(uuid.uuid4())):  # other@ is not linked to SoLink
            r = api.put(f"{url}/{unknown}")
            assert r.status_code == 404 and r.json()["message"] == f"User {unknown} not found"
        assert counters(api.delete(f"{url}/{viewer}").json()) == (0, 0, 1)
        assert api.delete(f"{url}/{viewer}").status_code == 404
        assert [u["uuid"] for u in api.get(url).json()["results"]] == [demo]
        assert (
            log_actions(api, solink, g, "ACCESS_GROUP_USER_ADDED")
            == ["ACCESS_GROUP_USER_ADDED"] * 2
        )
        # a user not linked to the account is not a user of it
        ca = factories.corporate_account(api)
        r = api.put(f"{base(ca)}/{factories.access_group(api, ca)['uuid']}/users/{viewer}")
        assert r.status_code == 404 and r.json()["message"] == f"User {viewer} not found"
    finally:
        api.delete(f"{base(solink)}/{g['uuid']}")
