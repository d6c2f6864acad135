import uuid

from tests import factories
from tests.conftest import unique
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
