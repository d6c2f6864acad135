import uuid
from datetime import datetime, timedelta, timezone

import httpx

from tests import factories
from tests.conftest import unique

LOG_KEYS = {
    "uuid",
    "createdAt",
    "level",
    "action",
    "objectType",
    "objectUuid",
    "objectName",
    "userUuid",
    "userEmail",
    "message",
    "details",
    "corporateAccountUuid",
}


def logs(ca: dict) -> str:
    return f"/api/v1/ca/{ca['uuid']}/logs"


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


def test_entries_of_an_object_newest_first(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca, name=unique("Logged 100%"))
    api.put(
        f"/api/v1/ca/{ca['uuid']}/customers/{cust['uuid']}", json={"description": "d"}
    ).raise_for_status()
    page = api.get(logs(ca), params={"objectUuid": cust["uuid"]}).json()
    assert page["total"] == 2 and page["take"] == 50
    updated, created = page["results"]
    assert (updated["action"], created["action"]) == ("CUSTOMER_UPDATED", "CUSTOMER_CREATED")
    assert set(created) == LOG_KEYS
    assert created["objectType"] == "Customer" and created["objectName"] == cust["name"]
    assert created["objectUuid"] == cust["uuid"] and created["corporateAccountUuid"] == ca["uuid"]
    assert created["level"] == "INFO" and cust["name"] in created["message"]
    assert updated["details"] == {"fields": ["description"]}
    assert parse(updated["createdAt"]) >= parse(created["createdAt"])

    one = api.get(
        logs(ca), params={"objectUuid": cust["uuid"], "action": "CUSTOMER_CREATED"}
    ).json()
    assert [e["uuid"] for e in one["results"]] == [created["uuid"]]
    assert api.get(logs(ca), params={"objectType": "Customer"}).json()["total"] == 2
    assert api.get(logs(ca), params={"objectType": "Site"}).json()["total"] == 0
    assert (
        api.get(logs(ca), params={"level": "INFO", "objectUuid": cust["uuid"]}).json()["total"] == 2
    )
    assert api.get(logs(ca), params={"level": "error"}).json()["total"] == 0
    assert api.get(logs(ca), params={"search": cust["name"].lower()}).json()["total"] == 2
    assert api.get(logs(ca), params={"search": "0%"}).json()["total"] == 2  # % is literal text
    assert api.get(logs(ca), params={"search": "1%0"}).json()["total"] == 0
    assert api.get(logs(ca), params={"userEmail": "nobody@example.com"}).json()["total"] == 0
    asc = api.get(logs(ca), params={"objectUuid": cust["uuid"], "sortBy": "createdAt"}).json()[
        "results"
    ]
    assert [e["uuid"] for e in asc] == [created["uuid"], updated["uuid"]]
    by_action = api.get(logs(ca), params={"sortBy": "-action"}).json()["results"]
    assert [e["action"] for e in by_action] == sorted(
        (e["action"] for e in by_action), reverse=True
    )

    assert api.get(f"{logs(ca)}/{created['uuid']}").json() == created


def test_the_whole_log_is_newest_first(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca)
    for _ in range(3):
        factories.site(api, ca, cust)
    results = api.get(logs(ca)).json()["results"]
    assert len(results) == 5  # the account, the customer and three sites
    stamps = [parse(e["createdAt"]) for e in results]
    assert stamps == sorted(stamps, reverse=True)
    assert (
        results[-1]["action"] == "CORPORATE_ACCOUNT_CREATED"
        and results[0]["action"] == "SITE_CREATED"
    )
    assert api.get(logs(ca), params={"take": 2, "skip": 4}).json()["results"] == results[4:]


def test_from_is_inclusive_and_to_exclusive(api):
    ca = factories.corporate_account(api)
    cust = factories.customer(api, ca)
    entry = api.get(logs(ca), params={"objectUuid": cust["uuid"]}).json()["results"][0]
    at = entry["createdAt"]  # millisecond precision, at or just before the stored instant

    def found(**params) -> bool:
        uuids = [e["uuid"] for e in api.get(logs(ca), params=params).json()["results"]]
        return entry["uuid"] in uuids

    assert found(**{"from": at}) and not found(to=at)
    after = parse(at) + timedelta(milliseconds=1)
    assert found(to=after.isoformat()) and not found(**{"from": after.isoformat()})
    # the same instant written with another offset, and without one (taken as UTC)
    paris = parse(at).astimezone(timezone(timedelta(hours=2)))
    assert found(**{"from": paris.isoformat()})
    assert found(**{"from": parse(at).replace(tzinfo=None).isoformat()})
    assert found(**{"from": "2000-01-01", "to": "2999-01-01T00:00:00Z"})


def test_bad_filters(api):
    ca = factories.corporate_account(api)
    for field in ("from", "to"):
        r = api.get(logs(ca), params={field: "yesterday"})
        assert r.status_code == 400 and r.json()["message"].startswith(
            f"{field}: 'yesterday' is not an ISO 8601"
        )
    r = api.get(logs(ca), params={"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"})
    assert r.status_code == 400 and r.json()["message"].startswith("to: ")
    r = api.get(logs(ca), params={"level": "DEBUG"})
    assert r.status_code == 400 and "INFO, WARNING, ERROR" in r.json()["message"]
    r = api.get(logs(ca), params={"objectUuid": "nope"})
    assert r.status_code == 400 and r.json()["message"].startswith("objectUuid: must be a UUID")
    r = api.get(logs(ca), params={"sortBy": "message"})
    assert r.status_code == 400 and "action, createdAt, level" in r.json()["message"]


def test_an_entry_of_another_account_is_invisible(api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    foreign = api.get(logs(other)).json()["results"][0]
    assert api.get(f"{logs(other)}/{foreign['uuid']}").status_code == 200
    r = api.get(f"{logs(ca)}/{foreign['uuid']}")
    assert r.status_code == 404 and r.json()["message"] == f"Log {foreign['uuid']} not found"
    assert api.get(f"{logs(ca)}/{uuid.uuid4()}").status_code == 404
    r = api.get(f"{logs(ca)}/not-a-uuid")
    assert r.status_code == 400 and r.json()["message"].startswith("logUuid: must be a UUID")
    assert api.get(logs(ca), params={"objectUuid": other["uuid"]}).json()["total"] == 0
    assert api.get(f"/api/v1/ca/{uuid.uuid4()}/logs").status_code == 404


def test_a_clients_changes_are_logged_as_the_client(server, api):
    ca = factories.corporate_account(api)
    body = {"clientId": unique("logger").replace(" ", "-"), "role": "manager"}
    created = factories.created(api.post(f"/api/v1/ca/{ca['uuid']}/clients", json=body))
    token = httpx.post(
        f"{server.url}/realms/sodata/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created["clientId"],
            "client_secret": created["clientSecret"],
        },
    ).json()["access_token"]
    r = httpx.post(
        f"{server.url}/api/v1/ca/{ca['uuid']}/customers",
        json={"name": unique("By client")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    actor = f"client:{created['clientId']}"
    page = api.get(logs(ca), params={"userEmail": actor}).json()
    assert [(e["action"], e["objectUuid"]) for e in page["results"]] == [
        ("CUSTOMER_CREATED", r.json()["uuid"])
    ]
    assert page["results"][0]["userEmail"] == actor
