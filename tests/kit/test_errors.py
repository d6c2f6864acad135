"""One error shape everywhere, and messages that name the field and say how to fix it."""

import re
import time
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


def _concrete(template: str) -> str:
    return re.sub(r"{\w+}", "3756c84b-8697-446f-9ca3-931b3681f908", template)


def test_405_allows_every_method_of_the_path(api):
    """Allow names the methods of every route at the path (RFC 9110), not only those of the
    first route the router found there: OPTIONS /api/v1/ca answers "GET, POST"."""
    r = api.options("/api/v1/ca")
    assert r.status_code == 405 and set(r.json()) == SHAPE
    assert r.headers["allow"] == "GET, POST"
    paths = api.get("/swagger-api-json/v1").json()["paths"]
    patterns = {p: re.compile(re.sub(r"{\w+}", "[^/]+", p) + "$") for p in paths}
    checked = 0
    for template in paths:
        if not template.startswith("/api/"):
            continue
        path = _concrete(template)
        # every documented path the router would match this one with (/devices/{deviceUuid}
        # also matches /devices/pre-create)
        expected = {
            method.upper()
            for other, pattern in patterns.items()
            if pattern.match(path)
            for method in paths[other]
        }
        refused = next(m for m in ("PATCH", "DELETE", "PUT", "POST", "GET") if m not in expected)
        r = api.request(refused, path)
        assert r.status_code == 405, (refused, path, r.text)
        assert set(r.headers["allow"].split(", ")) == expected, (refused, path)
        checked += 1
    assert checked > 40
    # a mount answers its own 405
    r = api.post("/docs/swagger-ui/index.html")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


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


def test_a_throttled_log_says_once_how_many_lines_it_held_back(caplog) -> None:
    from sodata.kit.errors import Throttled

    throttled = Throttled(0.2)
    with caplog.at_level("WARNING", logger="sodata.kit.errors"):
        for i in range(5):
            throttled.warning("503 on GET /x: %s", i)
        time.sleep(0.25)
        throttled.warning("503 on GET /x: %s", "again")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "503 on GET /x: 0",
        "503 on GET /x: again (and 4 more since the last such line)",
    ]
