"""Users of a corporate account: /api/v1/ca/{ca}/users, as admin, viewer and outsider."""

from __future__ import annotations

import json
import re
import uuid

import httpx
import pytest

from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import (
    ADMIN_EMAIL,
    DEMO_EMAIL,
    OTHER_EMAIL,
    SOLINK,
    VIEWER_EMAIL,
    demo_uuid,
)
from tests import factories
from tests.conftest import client_as, unique

USER_KEYS = {"uuid", "email", "name", "role", "enabled", "createdAt"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PASSWORD = "correct horse battery"


def users(ca: dict | str) -> str:
    return f"/api/v1/ca/{factories.uuid_of(ca)}/users"


def new_email() -> str:
    return f"{unique('user').replace(' ', '-')}@example.com"


def add_user(api: httpx.Client, ca: dict | str, **fields) -> dict:
    body = {"email": new_email(), "role": "viewer", **fields}
    return factories.created(api.post(users(ca), json=body))


def token_form(**fields: str) -> dict[str, str]:
    return {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, **fields}


def sign_in(server, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{server.url}/realms/sodata/protocol/openid-connect/token",
        data=token_form(grant_type="password", username=email, password=password),
    )


def refresh(server, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/realms/sodata/protocol/openid-connect/token",
        data=token_form(grant_type="refresh_token", refresh_token=refresh_token),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def logs(api: httpx.Client, ca: dict, **params) -> list[dict]:
    r = api.get(f"/api/v1/ca/{ca['uuid']}/logs", params={"take": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_add_get_list_update_remove(api):
    ca = factories.corporate_account(api)
    email = new_email()
    user = add_user(api, ca, email=email.upper(), name="Jane Doe", password=PASSWORD)
    assert set(user) == USER_KEYS
    assert user["email"] == email  # stored lower-case: emails are case-insensitive
    assert (user["name"], user["role"], user["enabled"]) == ("Jane Doe", "viewer", True)
    assert TIMESTAMP.match(user["createdAt"])
    url = f"{users(ca)}/{user['uuid']}"
    assert api.get(url).json() == user

    page = api.get(users(ca)).json()
    assert page["total"] == 2 and page["take"] == 50  # the creator of the account, and Jane
    assert [u["email"] for u in page["results"]] == sorted([ADMIN_EMAIL, email])
    admin = next(u for u in page["results"] if u["email"] == ADMIN_EMAIL)
    assert admin["role"] == "admin" and admin["uuid"] == str(demo_uuid("user", ADMIN_EMAIL))
    newest = api.get(users(ca), params={"sortBy": "-createdAt"}).json()["results"]
    assert newest[0]["email"] == email

    changed = api.put(url, json={"role": "manager", "name": "Jane D."})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["role"], changed.json()["name"]) == ("manager", "Jane D.")
    # a client may send back what it read; read-only fields are ignored
    same = api.put(url, json={**changed.json(), "email": "ignored@example.com"})
    assert same.json() == changed.json()

    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.get(users(ca)).json()["total"] == 1

    entries = logs(api, ca, objectUuid=user["uuid"])
    assert sorted(e["action"] for e in entries) == [
        "USER_CREATED",
        "USER_LINKED",
        "USER_ROLE_CHANGED",
        "USER_UNLINKED",
        "USER_UPDATED",
    ]
    assert {e["userEmail"] for e in entries} == {ADMIN_EMAIL}
    assert PASSWORD not in json.dumps(entries)


def test_a_new_user_signs_in_and_sees_only_their_account_with_their_role(server, api):
    ca = factories.corporate_account(api)
    email = new_email()
    user = add_user(api, ca, email=email, password=PASSWORD)
    with client_as(server, None) as anonymous:
        r = sign_in(server, email)
        assert r.status_code == 200, r.text
        headers = bearer(r.json()["access_token"])
        accounts = anonymous.get("/api/v1/ca", headers=headers).json()
        assert [a["uuid"] for a in accounts["results"]] == [ca["uuid"]]
        links = accounts["results"][0]["userLinks"]
        assert [(link["role"], link["status"]) for link in links] == [("viewer", "VALIDATED")]
        # a viewer reads, and may not change
        assert anonymous.get(users(ca), headers=headers).status_code == 200
        r = anonymous.post(f"/api/v1/ca/{ca['uuid']}/customers", json={}, headers=headers)
        assert r.status_code == 403
    assert user["enabled"] is True


def test_posting_a_known_email_links_the_existing_user(api):
    first, second = factories.corporate_account(api), factories.corporate_account(api)
    user = add_user(api, first, name="Known", password=PASSWORD)
    linked = add_user(api, second, email=user["email"].title(), role="manager", name="Ignored")
    assert linked["uuid"] == user["uuid"]
    assert (linked["role"], linked["name"]) == ("manager", "Known")  # the user's own name stays
    # the role is per account
    assert api.get(f"{users(first)}/{user['uuid']}").json()["role"] == "viewer"
    again = api.post(users(second), json={"email": user["email"], "role": "admin"})
    assert again.status_code == 409 and "already linked" in again.json()["message"]
    # nobody sets the password of an existing user through an account they administer
    third = factories.corporate_account(api)
    r = api.post(
        users(third), json={"email": user["email"], "role": "viewer", "password": "new-password"}
    )
    assert r.status_code == 400 and r.json()["message"].startswith("password:")
    assert "new-password" not in r.text
    assert api.get(users(third)).json()["total"] == 1  # not linked
    assert [e["action"] for e in logs(api, second, objectUuid=user["uuid"])] == ["USER_LINKED"]


def test_bad_input(api):
    ca = factories.corporate_account(api)
    for body, field in (
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "a b@example.com", "role": "viewer"}, "email"),
        ({"email": new_email(), "role": "owner"}, "role"),
        ({"email": new_email()}, "role"),
        ({"role": "viewer"}, "email"),
        ({"email": new_email(), "role": "viewer", "admin": True}, "admin"),
        ({"email": new_email(), "role": "viewer", "password": "short"}, "password"),
        ({"email": new_email(), "role": "viewer", "password": "x" * 2000}, "password"),
        ({"email": new_email(), "role": "viewer", "name": "x" * 256}, "name"),
    ):
        r = api.post(users(ca), json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["message"].startswith(f"{field}:"), r.json()
        assert "short" not in r.json()["message"]  # a password is never quoted back
    assert api.get(users(ca)).json()["total"] == 1
    user = add_user(api, ca)
    url = f"{users(ca)}/{user['uuid']}"
    r = api.put(url, json={"role": None})
    assert r.status_code == 400 and r.json()["message"].startswith("role: may not be null")
    assert api.put(url, json={"name": None}).json()["name"] is None
    r = api.get(users(ca), params={"sortBy": "password"})
    assert r.status_code == 400 and "createdAt, email" in r.json()["message"]
    assert api.get(f"{users(ca)}/not-a-uuid").status_code == 400
    missing = uuid.uuid4()
    for method in ("GET", "PUT", "DELETE"):
        r = api.request(method, f"{users(ca)}/{missing}", json={} if method == "PUT" else None)
        assert r.status_code == 404 and r.json()["message"] == f"User {missing} not found"
    # a user of another account is not a user of this one
    viewer = demo_uuid("user", VIEWER_EMAIL)
    assert api.get(f"{users(ca)}/{viewer}").status_code == 404
    assert api.put(f"{users(ca)}/{viewer}/disable").status_code == 404


def test_the_last_admin_stays(api):
    ca = factories.corporate_account(api)
    admin = str(demo_uuid("user", ADMIN_EMAIL))
    url = f"{users(ca)}/{admin}"
    r = api.delete(url)
    assert r.status_code == 409 and "last admin" in r.json()["message"]
    assert api.put(url, json={"role": "viewer"}).status_code == 409
    assert api.get(url).json()["role"] == "admin"
    second = add_user(api, ca, role="admin")
    assert api.put(url, json={"role": "manager"}).json()["role"] == "manager"
    r = api.delete(f"{users(ca)}/{second['uuid']}")
    assert r.status_code == 409  # now the last admin
    assert api.put(url, json={"role": "admin"}).status_code == 200
    assert api.delete(f"{users(ca)}/{second['uuid']}").status_code == 204


def test_unlinking_removes_the_user_from_the_accounts_dags(api):
    ca = factories.corporate_account(api)
    user = add_user(api, ca)
    dag = factories.access_group(api, ca)
    dag_url = f"/api/v1/ca/{ca['uuid']}/data-access-groups/{dag['uuid']}"
    assert api.put(f"{dag_url}/users/{user['uuid']}").json()["usersQuantity"] == 1
    assert api.delete(f"{users(ca)}/{user['uuid']}").status_code == 204
    assert api.get(dag_url).json()["usersQuantity"] == 0
    # linked again, they come back without their old groups
    add_user(api, ca, email=user["email"])
    assert api.get(dag_url).json()["usersQuantity"] == 0


@pytest.fixture(scope="module")
def demo_admin(server, api):
    """demo@ (admin of SoLink, no platform operator), also admin of an account of its own
    while this module runs, so that its allowed changes leave the demo data alone."""
    ca = factories.corporate_account(api)
    add_user(api, ca, email=DEMO_EMAIL, role="admin")
    with client_as(server, DEMO_EMAIL) as client:
        yield client, ca
    # other packages' tests (the access matrix) expect demo@ in SoLink alone
    demo = demo_uuid("user", DEMO_EMAIL)
    assert api.delete(f"{users(ca)}/{demo}").status_code == 204


def test_an_admin_manages_users_of_their_account(demo_admin):
    client, ca = demo_admin
    user = add_user(client, ca, name="Jane")
    url = f"{users(ca)}/{user['uuid']}"
    assert client.put(url, json={"role": "admin"}).json()["role"] == "admin"
    # the user belongs to this account alone: its admin may rename them
    assert client.put(url, json={"name": "Jane D."}).json()["name"] == "Jane D."
    assert client.delete(url).status_code == 204
    entries = logs(client, ca, objectUuid=user["uuid"])
    assert {e["userEmail"] for e in entries} == {DEMO_EMAIL}


NOT_ADDABLE = (
    "email: a user with this email cannot be added here; ask a platform administrator to link them"
)


def test_an_account_admin_cannot_take_over_a_user_through_another_account(server, api, demo_admin):
    """The attack: the admin of account A creates a user with a password they know, unlinks
    them, and waits for the admin of account B to add that email, which linked the user and
    let A's admin sign in to B. Now an account admin neither sets passwords nor links users
    who already exist."""
    client, ca_a = demo_admin
    ca_b = factories.corporate_account(api)
    admin_b = add_user(api, ca_b, role="admin", password=DEMO_PASSWORD)  # a platform admin may
    email = new_email()

    r = client.post(users(ca_a), json={"email": email, "role": "viewer", "password": PASSWORD})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("password: only a platform administrator")
    assert PASSWORD not in r.text
    assert email not in {u["email"] for u in api.get(users(ca_a)).json()["results"]}

    planted = add_user(client, ca_a, email=email)  # without a password
    assert client.delete(f"{users(ca_a)}/{planted['uuid']}").status_code == 204
    with client_as(server, admin_b["email"]) as b:
        r = b.post(users(ca_b), json={"email": email, "role": "admin"})
        assert r.status_code == 409 and r.json()["message"] == NOT_ADDABLE
        assert {u["email"] for u in b.get(users(ca_b)).json()["results"]} == {
            ADMIN_EMAIL,
            admin_b["email"],
        }
    r = sign_in(server, email)  # no password: no way in
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant"
    # a platform administrator still links existing users
    assert add_user(api, ca_b, email=email)["uuid"] == planted["uuid"]


def test_an_account_admin_gets_one_answer_for_every_known_email(api, demo_admin):
    client, ca = demo_admin
    elsewhere = factories.corporate_account(api)
    orphan = add_user(api, elsewhere)
    assert api.delete(f"{users(elsewhere)}/{orphan['uuid']}").status_code == 204
    before = api.get(users(ca)).json()["total"]
    # linked here, linked elsewhere only, linked nowhere (the case matters not)
    for email in (DEMO_EMAIL, OTHER_EMAIL.upper(), orphan["email"]):
        r = client.post(users(ca), json={"email": email, "role": "admin"})
        assert r.status_code == 409 and r.json()["message"] == NOT_ADDABLE, (email, r.text)
    assert api.get(users(ca)).json()["total"] == before


def test_an_account_admin_renames_only_users_of_their_account_alone(api, demo_admin):
    client, ca = demo_admin
    shared = add_user(api, ca, name="Shared")
    add_user(api, factories.corporate_account(api), email=shared["email"])
    admin = str(demo_uuid("user", ADMIN_EMAIL))  # the platform operator, linked to ca
    demo = str(demo_uuid("user", DEMO_EMAIL))  # demo@ itself, also in SoLink
    for target in (shared["uuid"], admin, demo):
        url = f"{users(ca)}/{target}"
        name = api.get(url).json()["name"]
        r = client.put(url, json={"name": "Taken over"})
        assert r.status_code == 403, r.text
        assert r.json()["message"].startswith("name: only a platform administrator may rename")
        assert api.get(url).json()["name"] == name
    # the attack as reported: the admin of SoLink renaming the operator there
    r = client.put(f"{users(str(SOLINK))}/{admin}", json={"name": "Taken over"})
    assert r.status_code == 403
    # sending the name back unchanged is no rename; roles stay the account's business
    url = f"{users(ca)}/{shared['uuid']}"
    r = client.put(url, json={"name": "Shared", "role": "manager"})
    assert r.status_code == 200 and r.json()["role"] == "manager"
    assert api.put(url, json={"name": "Renamed"}).json()["name"] == "Renamed"
    actions = [e["action"] for e in logs(api, ca, objectUuid=shared["uuid"])]
    assert actions.count("USER_UPDATED") == 1


def test_only_platform_administrators_disable_users(api, demo_admin):
    client, ca = demo_admin
    user = add_user(client, ca)
    for action in ("disable", "enable"):
        r = client.put(f"{users(ca)}/{user['uuid']}/{action}")
        assert r.status_code == 403, r.text
    assert api.get(f"{users(ca)}/{user['uuid']}").json()["enabled"] is True
    admin = demo_uuid("user", ADMIN_EMAIL)
    r = api.put(f"{users(ca)}/{admin}/disable")
    assert r.status_code == 409 and "yourself" in r.json()["message"]


def test_a_viewer_reads_users_and_changes_nothing(server):
    viewer = str(demo_uuid("user", VIEWER_EMAIL))
    with client_as(server, VIEWER_EMAIL) as client:
        page = client.get(users(str(SOLINK))).json()
        assert {u["email"] for u in page["results"]} == {ADMIN_EMAIL, DEMO_EMAIL, VIEWER_EMAIL}
        assert client.get(f"{users(str(SOLINK))}/{viewer}").json()["role"] == "viewer"
        for method, path, body in (
            ("POST", "", {"email": new_email(), "role": "viewer"}),
            ("PUT", f"/{viewer}", {"role": "admin"}),
            ("DELETE", f"/{viewer}", None),
            ("PUT", f"/{viewer}/disable", None),
            ("PUT", f"/{viewer}/enable", None),
        ):
            r = client.request(method, users(str(SOLINK)) + path, json=body)
            assert r.status_code == 403, (method, path, r.text)
        assert client.get(f"{users(str(SOLINK))}/{viewer}").json()["role"] == "viewer"


def test_a_user_of_another_account_gets_404_on_solink(server):
    viewer = str(demo_uuid("user", VIEWER_EMAIL))
    with client_as(server, OTHER_EMAIL) as client:
        for method, path, body in (
            ("GET", "", None),
            ("GET", f"/{viewer}", None),
            ("POST", "", {"email": new_email(), "role": "viewer"}),
            ("PUT", f"/{viewer}", {"role": "admin"}),
            ("DELETE", f"/{viewer}", None),
            ("PUT", f"/{viewer}/disable", None),
        ):
            r = client.request(method, users(str(SOLINK)) + path, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert r.json()["message"] == f"Corporate account {SOLINK} not found"


def test_disabling_a_user_ends_their_sessions(server, api):
    ca = factories.corporate_account(api)
    email = new_email()
    user = add_user(api, ca, email=email, password=PASSWORD)
    tokens = sign_in(server, email).json()
    account = f"{server.url}/api/v1/ca/{ca['uuid']}"
    assert httpx.get(account, headers=bearer(tokens["access_token"])).status_code == 200

    disabled = api.put(f"{users(ca)}/{user['uuid']}/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    r = refresh(server, tokens["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert httpx.get(account, headers=bearer(tokens["access_token"])).status_code == 401
    r = sign_in(server, email)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    entry = logs(api, ca, action="USER_DISABLED")[0]
    assert entry["objectUuid"] == user["uuid"] and entry["details"]["sessionsEnded"] == 1

    enabled = api.put(f"{users(ca)}/{user['uuid']}/enable")
    assert enabled.json()["enabled"] is True
    again = sign_in(server, email)
    assert again.status_code == 200
    assert httpx.get(account, headers=bearer(again.json()["access_token"])).status_code == 200
    actions = [e["action"] for e in logs(api, ca, objectUuid=user["uuid"])]
    assert [a for a in actions if a.startswith("USER_")][:2] == ["USER_ENABLED", "USER_DISABLED"]
    assert actions.count("SIGN_IN") == 2


def test_user_links_show_only_the_callers_own_unless_admin(server):
    with client_as(server, VIEWER_EMAIL) as viewer, client_as(server, DEMO_EMAIL) as demo:
        own = viewer.get(f"/api/v1/ca/{SOLINK}").json()["userLinks"]
        assert [link["role"] for link in own] == ["viewer"]
        listed = viewer.get("/api/v1/ca").json()["results"]
        assert [a["userLinks"] for a in listed if a["uuid"] == str(SOLINK)] == [own]
        everyone = demo.get(f"/api/v1/ca/{SOLINK}").json()["userLinks"]
        assert sorted(link["role"] for link in everyone) == ["admin", "admin", "viewer"]
        assert own[0] in everyone
