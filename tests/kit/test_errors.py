"""One error shape everywhere, and messages that name the field and say how to fix it."""

import uuid

from tests import factories

SHAPE = {"statusCode", "message", "error"}


def test_unknown_path_uses_the_error_shape(api):
    r = api.get("/api/v1/nothing-here")
    assert r.status_code == 404 and set(r.json()) == SHAPE
    assert "/swagger-api-json/v1" in r.json()["message"]


def test_wrong_method_uses_the_error_shape(api):
    r = api.delete("/api/v1/ca")
    assert (
        r.status_code == 405
        and set(r.json()) == SHAPE
        and r.json()["error"] == "Method Not Allowed"
    )


def test_take_and_skip_limits(api):
    for params, field in (
        ({"take": 1001}, "take"),
        ({"take": -1}, "take"),
        ({"skip": -5}, "skip"),
        ({"take": "ten"}, "take"),
    ):
        r = api.get("/api/v1/ca", params=params)
        assert r.status_code == 400, params
        body = r.json()
        assert set(body) == SHAPE and body["error"] == "Bad Request"
        assert body["message"].startswith(f"{field}: "), body


def test_invalid_json_body(api):
    ca = factories.corporate_account(api)
    r = api.post(
        f"/api/v1/ca/{ca['uuid']}/customers",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = api.post(f"/api/v1/ca/{ca['uuid']}/customers", json=["a", "list"])
    assert r.status_code == 400 and set(r.json()) == SHAPE


def test_several_problems_are_all_named(api):
    r = api.get("/api/v1/ca", params={"take": 99999, "skip": -1})
    message = r.json()["message"]
    assert r.status_code == 400 and "take: " in message and "skip: " in message


def test_malformed_account_uuid(api):
    r = api.get("/api/v1/ca/3756c84b-8697/customers")
    assert r.status_code == 400
    assert r.json()["message"].startswith("corporateAccountUuid: must be a UUID")
    assert api.get(f"/api/v1/ca/{uuid.uuid4()}/customers").status_code == 404
