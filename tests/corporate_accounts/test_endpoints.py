import uuid

from sodata.demo.ids import OTHER_EMAIL, VIEWER_EMAIL
from tests import factories
from tests.conftest import client_as, unique
from tests.spec_keys import SPEC_CA_KEYS


def test_create_then_get_and_list(api):
    ca = factories.corporate_account(api, emailTo="ops@example.com")
    assert set(ca) == SPEC_CA_KEYS
    assert ca["emailTo"] == "ops@example.com"
    assert ca["active"] is True and ca["defaultCustomerUuid"] is None
    assert api.get(f"/api/v1/ca/{ca['uuid']}").json() == ca
    listed = api.get("/api/v1/ca", params={"take": 1000}).json()
    assert listed["take"] == 1000
    assert ca["uuid"] in {r["uuid"] for r in listed["results"]}
    assert listed["total"] >= len(listed["results"])


def test_update_is_partial_and_accepts_the_object_it_returned(api):
    ca = factories.corporate_account(api, emailTo="a@example.com")
    changed = api.put(f"/api/v1/ca/{ca['uuid']}", json={**ca, "emailCc": "b@example.com"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["emailCc"] == "b@example.com"
    assert changed.json()["emailTo"] == "a@example.com"


def test_default_customer_must_belong_to_the_account(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    own = factories.customer(api, ca)
    foreign = factories.customer(api, other)
    ok = api.put(f"/api/v1/ca/{ca['uuid']}", json={"defaultCustomerUuid": own["uuid"]})
    assert ok.json()["defaultCustomerUuid"] == own["uuid"]
    bad = api.put(f"/api/v1/ca/{ca['uuid']}", json={"defaultCustomerUuid": foreign["uuid"]})
    assert bad.status_code == 400
    assert "defaultCustomerUuid" in bad.json()["message"]


def test_duplicate_name_is_a_conflict(api):
    ca = factories.corporate_account(api)
    r = api.post("/api/v1/ca", json={"name": ca["name"]})
    assert r.status_code == 409
    assert "already taken" in r.json()["message"]


def test_bad_input(api):
    assert api.post("/api/v1/ca", json={}).json()["message"] == "name: is required"
    ca = factories.corporate_account(api)
    r = api.put(f"/api/v1/ca/{ca['uuid']}", json={"active": None})
    assert r.status_code == 400 and r.json()["message"].startswith("active: may not be null")
    r = api.put(f"/api/v1/ca/{ca['uuid']}", json={"canPublish": "sometimes"})
    assert r.status_code == 400 and "canPublish" in r.json()["message"]
    r = api.get("/api/v1/ca", params={"sortBy": "password"})
    assert r.status_code == 400 and "createdAt, name" in r.json()["message"]


def test_unknown_account_is_404(api):
    missing = uuid.uuid4()
    for method, body in (("GET", None), ("PUT", {"name": unique("x")})):
        r = api.request(method, f"/api/v1/ca/{missing}", json=body)
        assert r.status_code == 404
        assert r.json() == {
            "statusCode": 404,
            "message": f"Corporate account {missing} not found",
            "error": "Not Found",
        }


def test_sort_descending(api):
    names = [
        r["name"]
        for r in api.get("/api/v1/ca", params={"sortBy": "-name", "take": 1000}).json()["results"]
    ]
    assert names == sorted(names, reverse=True)


def test_list_searches_by_name(api, server):
    token = uuid.uuid4().hex[:8]
    north = factories.corporate_account(api, name=f"Zeta {token} North")
    factories.corporate_account(api, name=f"Zeta {token} 100% South")

    def found(client, text, **params):
        page = client.get("/api/v1/ca", params={"name": text, **params}).json()
        return page["total"], [ca["name"] for ca in page["results"]]

    # a part of the name in another case; total counts the matches, take applies after
    assert found(api, f"ZETA {token}", sortBy="name") == (
        2,
        [f"Zeta {token} 100% South", f"Zeta {token} North"],
    )
    assert found(api, f"zeta {token}", take=1, skip=1, sortBy="name") == (
        2,
        [north["name"]],
    )
    assert found(api, f"{token} NoRtH") == (1, [north["name"]])
    # % and _ are matched literally, not as LIKE wildcards
    assert found(api, "100% s")[1] == [f"Zeta {token} 100% South"]
    assert found(api, f"{token}%") == (0, [])
    assert found(api, f"{token}_") == (0, [])
    # the search stays inside the accounts the caller sees
    with client_as(server, VIEWER_EMAIL) as viewer, client_as(server, OTHER_EMAIL) as other:
        assert found(viewer, f"zeta {token}") == (0, [])
        assert found(viewer, "solink") == (1, ["SoLink"])
        assert found(other, "solink") == (0, [])
        assert found(other, "ENERGY") == (1, ["Energy Storage"])
