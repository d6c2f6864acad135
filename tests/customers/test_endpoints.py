import base64
import uuid

from tests import factories
from tests.spec_keys import SPEC_ADDRESS_KEYS, SPEC_CONTACT_KEYS, SPEC_CUSTOMER_KEYS

# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_create_with_address_and_contact(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(
        api,
        ca,
        technicalName="Acme",
        companyAddress={
            "street": "1 Rue de Westhouse",
            "postCode": "67235",
            "city": "Benfeld",
            "country": "France",
        },
        contact={"name": "Jane Doe", "email": "jane@example.com", "emailCC": "ops@example.com"},
    )
    assert set(cust) == SPEC_CUSTOMER_KEYS
    assert (
        set(cust["companyAddress"]) == SPEC_ADDRESS_KEYS
        and set(cust["contact"]) == SPEC_CONTACT_KEYS
    )
    assert cust["contact"]["emailCC"] == "ops@example.com"
    assert cust["corporateAccountUuid"] == ca["uuid"] and cust["sitesQuantity"] == 0
    url = f"/api/v1/ca/{ca['uuid']}/customers/{cust['uuid']}"
    # contact and address only when asked for
    assert set(api.get(url).json()) == SPEC_CUSTOMER_KEYS - {"companyAddress", "contact"}
    assert api.get(url, params={"detailsLevel": "ALL"}).json() == cust
    assert set(api.get(url, params={"withContact": "true"}).json()) == SPEC_CUSTOMER_KEYS - {
        "companyAddress"
    }


def test_list_counts_sites_and_pages(api):
    ca = factories.corporate_account(api)
    customers = [factories.customer(api, ca, name=f"C{i:02d}") for i in range(5)]
    factories.site(api, ca, customers[1])
    factories.site(api, ca, customers[1])
    url = f"/api/v1/ca/{ca['uuid']}/customers"
    page = api.get(url, params={"take": 2, "skip": 1}).json()
    assert page["total"] == 5 and page["take"] == 2
    assert [c["name"] for c in page["results"]] == ["C01", "C02"]
    assert page["results"][0]["sitesQuantity"] == 2
    assert api.get(url, params={"take": 0}).json() == {"total": 5, "results": [], "take": 0}
    desc = api.get(url, params={"sortBy": "-name"}).json()["results"]
    assert [c["name"] for c in desc] == ["C04", "C03", "C02", "C01", "C00"]


def test_update_and_delete(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca, contact={"name": "A"})
    url = f"/api/v1/ca/{ca['uuid']}/customers/{cust['uuid']}"
    r = api.put(
        url,
        params={"detailsLevel": "ALL"},
        json={"description": "d", "contact": {"phone": "+33 1"}},
    )
    assert r.status_code == 200
    assert r.json()["description"] == "d"
    full = api.get(url, params={"detailsLevel": "ALL"}).json()
    assert full["contact"]["phone"] == "+33 1" and full["contact"]["name"] == "A"
    assert api.put(url, json={"contact": None}).status_code == 200
    assert api.get(url, params={"detailsLevel": "ALL"}).json()["contact"] is None
    site = factories.site(api, ca, cust)
    r = api.delete(url)
    assert r.status_code == 409 and "1 site" in r.json()["message"]
    assert api.delete(f"/api/v1/ca/{ca['uuid']}/sites/{site['uuid']}").status_code == 204
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_duplicate_name_conflicts_only_within_an_account(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    cust = factories.customer(api, ca)
    r = api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": cust["name"]})
    assert r.status_code == 409 and "name" in r.json()["message"]
    factories.customer(api, other, name=cust["name"])


def test_customer_of_another_account_is_invisible(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    foreign = factories.customer(api, other)
    url = f"/api/v1/ca/{ca['uuid']}/customers/{foreign['uuid']}"
    for method in ("GET", "PUT", "DELETE"):
        r = api.request(method, url, json={} if method == "PUT" else None)
        assert r.status_code == 404, (method, r.text)
        assert r.json()["message"] == f"Customer {foreign['uuid']} not found"
    assert api.get(url + "/icon").status_code == 404
    assert foreign["uuid"] not in {
        c["uuid"] for c in api.get(f"/api/v1/ca/{ca['uuid']}/customers").json()["results"]
    }


def test_icon_round_trip_and_refusals(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca)
    url = f"/api/v1/ca/{ca['uuid']}/customers/{cust['uuid']}/icon"
    missing = api.get(url)
    assert missing.status_code == 404 and "Icon" in missing.json()["message"]
    r = api.put(url, files={"file": ("icon.png", PNG, "image/png")})
    assert r.status_code == 200, r.text
    icon_uuid = r.json()["iconUuid"]
    assert icon_uuid
    got = api.get(url)
    assert (
        got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content == PNG
    )
    # a raw body works too, and replaces the icon
    r = api.put(url, content=PNG, headers={"content-type": "image/png"})
    assert r.json()["iconUuid"] not in (None, icon_uuid)
    r = api.put(url, files={"file": ("evil.png", b"<script>alert(1)</script>", "image/png")})
    assert r.status_code == 415 and "not an image" in r.json()["message"]
    r = api.put(
        url, content=b"\x89PNG" + b"\0" * (1024 * 1024 + 10), headers={"content-type": "image/png"}
    )
    assert r.status_code == 413 and "KiB" in r.json()["message"]
    r = api.put(url, files={"other": ("x.png", PNG, "image/png")})
    assert r.status_code == 400 and "file" in r.json()["message"]
    assert api.get(url).content == PNG


def test_malformed_uuids_and_unknown_fields(api):
    ca = factories.corporate_account(api)
    r = api.get(f"/api/v1/ca/{ca['uuid']}/customers/not-a-uuid")
    assert r.status_code == 400 and r.json()["message"].startswith("customerUuid: must be a UUID")
    r = api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": "x", "nmae": "y"})
    assert r.status_code == 400 and "nmae" in r.json()["message"]
    r = api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": "x", "contact": {"fax": "1"}})
    assert r.status_code == 400 and "contact.fax" in r.json()["message"]
    r = api.get(f"/api/v1/ca/{uuid.uuid4()}/customers")
    assert r.status_code == 404


def test_list_searches_by_name(api):
    ca = factories.corporate_account(api)
    url = f"/api/v1/ca/{ca['uuid']}/customers"
    for name in ("Acme North", "Acme SOUTH", "Beta 50% off", "Gamma_Delta"):
        factories.customer(api, ca, name=name)

    def found(text, **params):
        page = api.get(url, params={"name": text, **params}).json()
        return page["total"], [c["name"] for c in page["results"]]

    # a part of the name in another case; total counts the matches, take applies after
    assert found("aCmE", sortBy="name") == (2, ["Acme North", "Acme SOUTH"])
    assert found("acme", take=1, sortBy="-name") == (2, ["Acme SOUTH"])
    assert found("acme", take=0) == (2, [])
    assert found("me sou") == (1, ["Acme SOUTH"])
    # % and _ are matched literally, not as LIKE wildcards
    assert found("50% O") == (1, ["Beta 50% off"])
    assert found("a_d") == (1, ["Gamma_Delta"])
    assert found("e%") == (0, [])
    assert found("a_n") == (0, [])
    # no text: no filter
    assert found("")[0] == 4
