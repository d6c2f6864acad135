import uuid

from tests import factories
from tests.spec_keys import SPEC_SITE_KEYS


def test_create_get_list_count(api):
    ca = factories.corporate_account(api)
    a, b = factories.customer(api, ca), factories.customer(api, ca)
    s1 = factories.site(api, ca, a, timeZone="Europe/Paris", configurationOptions={"x": 1})
    factories.site(api, ca, a)
    factories.site(api, ca, b)
    assert set(s1) == SPEC_SITE_KEYS | {"address", "contact"}  # a change answers with every detail
    assert (
        s1["timeZone"] == "Europe/Paris"
        and s1["customerUuid"] == a["uuid"]
        and s1["devicesQuantity"] == 0
    )
    uuid.UUID(s1["activationKey"])
    base = f"/api/v1/ca/{ca['uuid']}/sites"
    assert api.get(f"{base}/{s1['uuid']}").json() == {
        k: v for k, v in s1.items() if k not in ("address", "contact")
    }
    assert api.get(base).json()["total"] == 3
    only_a = api.get(base, params={"customerUuid": a["uuid"]}).json()
    assert only_a["total"] == 2 and {s["customerUuid"] for s in only_a["results"]} == {a["uuid"]}
    assert api.get(f"{base}/count").json() == {"count": 3}
    assert api.get(f"{base}/count", params={"customerUuid": b["uuid"]}).json() == {"count": 1}
    full = api.get(f"{base}/{s1['uuid']}", params={"detailsLevel": "ALL"}).json()
    assert set(full) == SPEC_SITE_KEYS | {"address", "contact"}
    assert api.get(f"/api/v1/ca/{ca['uuid']}/customers/{a['uuid']}").json()["sitesQuantity"] == 2


def test_update_moves_between_customers_of_the_account_only(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    a, b = factories.customer(api, ca), factories.customer(api, ca)
    foreign = factories.customer(api, other)
    s = factories.site(api, ca, a)
    url = f"/api/v1/ca/{ca['uuid']}/sites/{s['uuid']}"
    moved = api.put(url, json={"customerUuid": b["uuid"], "address": {"city": "Benfeld"}})
    assert moved.status_code == 200 and moved.json()["customerUuid"] == b["uuid"]
    assert api.get(url, params={"withAddress": True}).json()["address"]["city"] == "Benfeld"
    r = api.put(url, json={"customerUuid": foreign["uuid"]})
    assert r.status_code == 400 and r.json()["message"].startswith("customerUuid: no customer")


def test_bad_input(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca)
    base = f"/api/v1/ca/{ca['uuid']}/sites"
    r = api.post(base, json={"name": "s", "customerUuid": cust["uuid"], "timeZone": "Mars/Olympus"})
    assert (
        r.status_code == 400 and "timeZone" in r.json()["message"] and "IANA" in r.json()["message"]
    )
    r = api.post(base, json={"name": "s"})
    assert r.status_code == 400 and r.json()["message"] == "customerUuid: is required"
    r = api.post(base, json={"name": "s", "customerUuid": str(uuid.uuid4())})
    assert r.status_code == 400 and "customerUuid" in r.json()["message"]
    r = api.get(base, params={"customerUuid": "nope"})
    assert r.status_code == 400 and "customerUuid" in r.json()["message"]
    r = api.get(base, params={"detailsLevel": "EVERYTHING"})
    assert r.status_code == 400 and "DEFAULT, ALL" in r.json()["message"]
    s = factories.site(api, ca, cust)
    r = api.post(base, json={"name": s["name"], "customerUuid": cust["uuid"]})
    assert r.status_code == 409


def test_site_of_another_account_is_invisible(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    foreign = factories.site(api, other, factories.customer(api, other))
    url = f"/api/v1/ca/{ca['uuid']}/sites/{foreign['uuid']}"
    assert api.get(url).status_code == 404
    assert api.put(url, json={"description": "x"}).status_code == 404
    assert api.delete(url).status_code == 404
    assert api.get(f"/api/v1/ca/{ca['uuid']}/sites/count").json() == {"count": 0}
    assert api.get(f"/api/v1/ca/{other['uuid']}/sites/{foreign['uuid']}").status_code == 200


def test_list_searches_by_name(api):
    ca = factories.corporate_account(api)
    first, second = factories.customer(api, ca), factories.customer(api, ca)
    for cust, name in ((first, "Lyon Gerland"), (second, "Lyon PART-DIEU"), (first, "Nantes 100%")):
        factories.site(api, ca, cust, name=name)
    url = f"/api/v1/ca/{ca['uuid']}/sites"

    def found(text, **params):
        page = api.get(url, params={"name": text, **params}).json()
        return page["total"], [s["name"] for s in page["results"]]

    # a part of the name in another case; total counts the matches, take applies after
    assert found("LYON", sortBy="name") == (2, ["Lyon Gerland", "Lyon PART-DIEU"])
    assert found("yOn", take=1, skip=1, sortBy="name") == (2, ["Lyon PART-DIEU"])
    assert found("part-d") == (1, ["Lyon PART-DIEU"])
    # with the other filters
    assert found("lyon", customerUuid=second["uuid"]) == (1, ["Lyon PART-DIEU"])
    assert found("nantes", customerUuid=second["uuid"]) == (0, [])
    # % and _ are matched literally, not as LIKE wildcards
    assert found("100%") == (1, ["Nantes 100%"])
    assert found("n%") == (0, [])
    assert found("lyon_") == (0, [])
