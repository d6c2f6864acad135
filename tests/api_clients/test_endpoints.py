"""API clients of a corporate account: /api/v1/ca/{ca}/clients, their secret shown once, and
the client_credentials grant acting in the account with the client's role."""

from __future__ import annotations

import re
import uuid

import httpx

from sodata.demo.ids import (
    ADMIN_EMAIL,
    GATEWAY_TYPE,
    MASTERYS_GATEWAY,
    OTHER_EMAIL,
    SOLINK,
    VIEWER_EMAIL,
)
from tests import factories
from tests.conftest import client_as, unique

CLIENT_KEYS = {
    "uuid",
    "clientId",
    "name",
    "role",
    "gatewayUuid",
    "grantTypes",
    "enabled",
    "createdAt",
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def clients(ca: dict | str) -> str:
    return f"/api/v1/ca/{factories.uuid_of(ca)}/clients"


def new_client_id() -> str:
    return unique("client").replace(" ", "-")


def create_client(api: httpx.Client, ca: dict | str, **fields) -> dict:
    body = {"clientId": new_client_id(), "role": "viewer", **fields}
    return factories.created(api.post(clients(ca), json=body))


def client_token(server, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/realms/sodata/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


def as_client(server, client: dict) -> httpx.Client:
    """An HTTP client signed in with the API client's service account."""
    r = client_token(server, client["clientId"], client["clientSecret"])
    assert r.status_code == 200, r.text
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {r.json()['access_token']}"},
        timeout=30,
    )


def all_logs(api: httpx.Client, ca: dict) -> str:
    r = api.get(f"/api/v1/ca/{ca['uuid']}/logs", params={"take": 1000})
    assert r.status_code == 200
    return r.text


def test_create_shows_the_secret_once(api):
    ca = factories.corporate_account(api)
    r = api.post(
        clients(ca), json={"clientId": new_client_id(), "name": "ERP export", "role": "manager"}
    )
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    created = r.json()
    assert set(created) == CLIENT_KEYS | {"clientSecret"}
    assert len(created["clientSecret"]) >= 32
    assert (created["name"], created["role"], created["gatewayUuid"]) == (
        "ERP export",
        "manager",
        None,
    )
    assert created["grantTypes"] == ["client_credentials"] and created["enabled"] is True
    assert TIMESTAMP.match(created["createdAt"])
    shown = {k: v for k, v in created.items() if k != "clientSecret"}
    assert api.get(f"{clients(ca)}/{created['uuid']}").json() == shown
    page = api.get(clients(ca)).json()
    assert page["total"] == 1 and page["results"] == [shown]
    assert created["clientSecret"] not in api.get(clients(ca)).text
    assert created["clientSecret"] not in all_logs(api, ca)
    entry = api.get(f"/api/v1/ca/{ca['uuid']}/logs", params={"action": "CLIENT_CREATED"}).json()
    assert entry["results"][0]["objectUuid"] == created["uuid"]
    assert entry["results"][0]["userEmail"] == ADMIN_EMAIL


def test_the_client_acts_in_its_account_with_its_role(server, api):
    ca, other = factories.corporate_account(api), factories.corporate_account(api)
    customer = factories.customer(api, ca)
    viewer = create_client(api, ca, role="viewer")
    with as_client(server, viewer) as client:
        accounts = client.get("/api/v1/ca").json()
        assert [a["uuid"] for a in accounts["results"]] == [ca["uuid"]]
        assert accounts["results"][0]["userLinks"] == []  # not an admin: no one's links
        assert (
            client.get(f"/api/v1/ca/{ca['uuid']}/customers/{customer['uuid']}").status_code == 200
        )
        r = client.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": unique("C")})
        assert r.status_code == 403
        assert client.get(f"/api/v1/ca/{other['uuid']}").status_code == 404
        assert client.get(f"/api/v1/ca/{SOLINK}/customers").status_code == 404
    admin = create_client(api, ca, role="admin")
    with as_client(server, admin) as client:
        account = client.get(f"/api/v1/ca/{ca['uuid']}").json()
        assert [link["role"] for link in account["userLinks"]] == ["admin"]  # admin@'s
        r = client.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": unique("C")})
        assert r.status_code == 201
        # logged as the client: a client is no user, but its changes are traced to it
        entry = client.get(
            f"/api/v1/ca/{ca['uuid']}/logs", params={"objectUuid": r.json()["uuid"]}
        ).json()["results"][0]
        actor = f"client:{admin['clientId']}"
        assert (entry["action"], entry["userEmail"]) == ("CUSTOMER_CREATED", actor)


def test_regenerating_the_secret_retires_the_old_one(server, api):
    ca = factories.corporate_account(api)
    created = create_client(api, ca)
    url = f"{clients(ca)}/{created['uuid']}/secret"
    r = api.put(url)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    renewed = r.json()
    assert renewed["clientSecret"] != created["clientSecret"]
    assert {k: v for k, v in renewed.items() if k != "clientSecret"} == {
        k: v for k, v in created.items() if k != "clientSecret"
    }
    old = client_token(server, created["clientId"], created["clientSecret"])
    assert old.status_code == 401 and old.json()["error"] == "invalid_client"
    assert client_token(server, created["clientId"], renewed["clientSecret"]).status_code == 200
    text = all_logs(api, ca)
    assert "CLIENT_SECRET_REGENERATED" in text
    assert created["clientSecret"] not in text and renewed["clientSecret"] not in text


def test_deleting_a_client_ends_its_access(server, api):
    ca = factories.corporate_account(api)
    created = create_client(api, ca)
    with as_client(server, created) as client:
        assert client.get(f"/api/v1/ca/{ca['uuid']}").status_code == 200
        assert api.delete(f"{clients(ca)}/{created['uuid']}").status_code == 204
        assert client.get(f"/api/v1/ca/{ca['uuid']}").status_code == 401
    r = client_token(server, created["clientId"], created["clientSecret"])
    assert r.status_code == 401
    assert api.get(f"{clients(ca)}/{created['uuid']}").status_code == 404
    assert api.delete(f"{clients(ca)}/{created['uuid']}").status_code == 404
    text = all_logs(api, ca)
    assert "CLIENT_DELETED" in text and created["clientSecret"] not in text


def test_gateway_binding(api):
    ca = factories.corporate_account(api)
    site = factories.site(api, ca, factories.customer(api, ca))
    gateway = factories.device(api, ca, site, type_uid=GATEWAY_TYPE)
    ups = factories.device(api, ca, site)
    bound = create_client(api, ca, gatewayUuid=gateway["uuid"])
    assert bound["gatewayUuid"] == gateway["uuid"]
    assert api.get(clients(ca)).json()["results"][0]["gatewayUuid"] == gateway["uuid"]
    for device_uuid, text in (
        (ups["uuid"], "not a gateway device"),
        (str(MASTERYS_GATEWAY), "no device"),  # a gateway of SoLink
        (str(uuid.uuid4()), "no device"),
    ):
        r = api.post(
            clients(ca),
            json={"clientId": new_client_id(), "role": "viewer", "gatewayUuid": device_uuid},
        )
        assert r.status_code == 400 and r.json()["message"].startswith("gatewayUuid:"), r.text
        assert text in r.json()["message"]


def test_bad_input(api):
    ca = factories.corporate_account(api)
    taken = create_client(api, ca)
    r = api.post(clients(ca), json={"clientId": taken["clientId"], "role": "viewer"})
    assert r.status_code == 409 and r.json()["message"].startswith("clientId:")
    # client ids are global: the demo's own client is taken too
    r = api.post(clients(ca), json={"clientId": "sodata-demo", "role": "viewer"})
    assert r.status_code == 409
    for body, field in (
        ({"clientId": "has space", "role": "viewer"}, "clientId"),
        ({"clientId": "a:b", "role": "viewer"}, "clientId"),
        ({"clientId": "", "role": "viewer"}, "clientId"),
        ({"role": "viewer"}, "clientId"),
        ({"clientId": new_client_id(), "role": "root"}, "role"),
        ({"clientId": new_client_id()}, "role"),
        ({"clientId": new_client_id(), "role": "viewer", "clientSecret": "mine"}, "clientSecret"),
        ({"clientId": new_client_id(), "role": "viewer", "gatewayUuid": "x"}, "gatewayUuid"),
    ):
        r = api.post(clients(ca), json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["message"].startswith(f"{field}:"), r.json()
    assert api.get(clients(ca)).json()["total"] == 1
    r = api.get(clients(ca), params={"sortBy": "secret"})
    assert r.status_code == 400 and "clientId, createdAt" in r.json()["message"]
    missing = uuid.uuid4()
    for method, path in (("GET", ""), ("PUT", "/secret"), ("DELETE", "")):
        r = api.request(method, f"{clients(ca)}/{missing}{path}")
        assert r.status_code == 404 and r.json()["message"] == f"API client {missing} not found"
    # a client of another account is not found here
    other = factories.corporate_account(api)
    assert api.get(f"{clients(other)}/{taken['uuid']}").status_code == 404
    assert api.delete(f"{clients(other)}/{taken['uuid']}").status_code == 404


def test_viewers_and_outsiders_cannot_touch_clients(server):
    """The rights check comes first, so a random client uuid shows what the caller may do."""
    some = uuid.uuid4()
    calls = (
        ("GET", "", None),
        ("GET", f"/{some}", None),
        ("POST", "", {"clientId": new_client_id(), "role": "admin"}),
        ("PUT", f"/{some}/secret", None),
        ("DELETE", f"/{some}", None),
    )
    with client_as(server, VIEWER_EMAIL) as viewer, client_as(server, OTHER_EMAIL) as other:
        for method, path, body in calls:
            r = viewer.request(method, clients(str(SOLINK)) + path, json=body)
            assert r.status_code == 403, (method, path, r.text)
            assert "admin role" in r.json()["message"]
            r = other.request(method, clients(str(SOLINK)) + path, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["message"] == f"Corporate account {SOLINK} not found"
