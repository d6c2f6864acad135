"""Bad input never gets a 500: each input a fuzzer or a review found gets a 4xx in the error
shape whose message names the field, on SQLite and on PostgreSQL (which enforces column
lengths and refuses NUL characters and NaN). The `server` fixture also fails the session if
the server logged an unexpected error."""

from __future__ import annotations

import asyncio
import json
import struct
import uuid
import zlib

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DataError

from sodata.demo.ids import DELPHYS_TYPE
from sodata.kit import handlers
from tests import factories
from tests.conftest import unique

SHAPE = {"statusCode", "message", "error"}


def refused(r: httpx.Response, field: str, status: int = 400) -> str:
    """Asserts a refusal in the error shape naming `field` first; returns the message."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == SHAPE and body["statusCode"] == status, body
    assert body["message"].startswith(f"{field}: "), body["message"]
    return body["message"]


def raw_json(api: httpx.Client, method: str, url: str, text: str) -> httpx.Response:
    """Sends JSON text as is: NaN and Infinity, which a JSON encoder would refuse to write."""
    return api.request(
        method, url, content=text.encode(), headers={"content-type": "application/json"}
    )


@pytest.fixture(scope="module")
def ca(api: httpx.Client) -> dict:
    return factories.corporate_account(api)


@pytest.fixture(scope="module")
def site(api: httpx.Client, ca: dict) -> dict:
    return factories.site(api, ca, factories.customer(api, ca))


@pytest.fixture(scope="module")
def device(api: httpx.Client, ca: dict, site: dict) -> dict:
    body = {
        "name": unique("Device"),
        "serialNumber": uuid.uuid4().hex[:12],
        "siteUuid": site["uuid"],
        "deviceTypeUid": str(DELPHYS_TYPE),
    }
    return factories.created(api.post(f"/api/v1/ca/{ca['uuid']}/devices", json=body))


# -- strings longer than their column, empty names -------------------------------------------


def test_names_must_be_1_to_255_characters(api, ca):
    for name in ("", "   ", "x" * 256):
        refused(api.post("/api/v1/ca", json={"name": name}), "name")
        refused(api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": name}), "name")
    refused(api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": "x" * 300}), "name")
    # surrounding spaces are trimmed, so the name fits
    r = api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": f"  {unique('C')}  "})
    assert r.status_code == 201 and r.json()["name"] == r.json()["name"].strip()


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("", {"activationType": "A" * 33}, "activationType"),
        ("", {"movingAuthorization": "M" * 33}, "movingAuthorization"),
        ("", {"emailTo": "e" * 256}, "emailTo"),
        ("/customers", {"movingAuthorization": "M" * 33}, "movingAuthorization"),
        ("/customers", {"description": "d" * 4001}, "description"),
        ("/customers", {"companyAddress": {"city": "c" * 256}}, "companyAddress.city"),
        ("/customers", {"contact": {"email": "e" * 256}}, "contact.email"),
        ("/sites", {"timeZone": "Z" * 65}, "timeZone"),
        ("/sites", {"address": {"street": "s" * 256}}, "address.street"),
        ("/sites", {"additionalInformation": "a" * 4001}, "additionalInformation"),
        ("/data-access-groups", {"technicalName": "t" * 256}, "technicalName"),
    ],
)
def test_strings_longer_than_their_column(api, ca, site, path, body, field):
    if path == "":
        url, method = f"/api/v1/ca/{ca['uuid']}", "PUT"
    elif path == "/sites":
        url, method = f"/api/v1/ca/{ca['uuid']}/sites/{site['uuid']}", "PUT"
    else:
        url, method = f"/api/v1/ca/{ca['uuid']}{path}", "POST"
        body = {"name": unique("N"), **body}
    refused(api.request(method, url, json=body), field)


def test_device_item_and_variable_strings_are_bounded(api, ca, device):
    url = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}"
    refused(api.put(url, json={"movingAuthorization": "M" * 33}), "movingAuthorization")
    refused(api.put(url, json={"contact": {"phone": "1" * 256}}), "contact.phone")
    refused(api.put(url, json={"serialNumber": "S" * 65}), "serialNumber")
    r = api.post(url + "/items", json={"itemType": "Load", "index": "7", "name": "n" * 256})
    refused(r, "name")
    variable = api.get(url + "/variables").json()["results"][0]
    r = api.put(f"{url}/variables/{variable['uuid']}", json={"label": "l" * 256})
    refused(r, "label")


# -- NUL characters ----------------------------------------------------------------------------


def test_nul_characters_in_bodies(api, ca, site, device):
    refused(api.post("/api/v1/ca", json={"name": "a\u0000b"}), "name")
    r = api.post(
        f"/api/v1/ca/{ca['uuid']}/customers",
        json={"name": unique("C"), "reference": "r\u0000"},
    )
    assert "NUL" in refused(r, "reference")
    r = api.put(
        f"/api/v1/ca/{ca['uuid']}/sites/{site['uuid']}", json={"contact": {"name": "\u0000"}}
    )
    refused(r, "contact.name")
    url = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}"
    r = api.put(url, json={"custom": {"note": "a\u0000"}})
    assert "NUL" in refused(r, "custom")
    refused(api.put(url, json={"tags": ["ok", "n\u0000"]}), "tags[1]")
    r = api.post(f"/api/v1/ca/{ca['uuid']}/variables", json={"mappingConfigs": ["G|0|\u0000"]})
    refused(r, "mappingConfigs[0]")


def test_invalid_unicode_in_bodies(api, ca, device):
    r = raw_json(api, "POST", f"/api/v1/ca/{ca['uuid']}/customers", '{"name": "a\\ud800"}')
    refused(r, "name")
    url = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}"
    for text in ('{"custom": {"k": ["\\ud800"]}}', '{"custom": {"\\udc00": 1}}'):
        assert "valid Unicode" in refused(raw_json(api, "PUT", url, text), "custom")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/ca?sortBy=na%00me",
        "/api/v1/ca/{ca}/logs?search=%00",
        "/api/v1/ca/{ca}/logs?userEmail=a%00b",
        "/api/v1/ca/{ca}/devices?serialNumber=%00",
        "/api/v1/ca/{ca}/data-access-groups?name=x%00",
        "/api/v1/services?group=%00",
        "/api/v1/ca?%00=1",
    ],
)
def test_nul_characters_in_query_strings(api, ca, url):
    r = api.get(url.format(ca=ca["uuid"]))
    assert refused(r, "query") == "query: NUL characters are not allowed"


def test_nul_characters_in_paths(api):
    refused(api.get("/api/v1/services/1401%0000"), "path")


# -- NaN, Infinity, depth and size of free-form objects --------------------------------------


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_free_form_objects_refuse_non_finite_numbers(api, ca, site, device, number):
    base = f"/api/v1/ca/{ca['uuid']}"
    dev = f"{base}/devices/{device['uuid']}"
    variable = api.get(dev + "/variables").json()["results"][0]
    item = api.get(dev + "/items").json()["results"][0]
    for method, url, field in (
        ("PUT", f"{base}/sites/{site['uuid']}", "configurationOptions"),
        ("PUT", dev, "custom"),
        ("PUT", dev, "configurationOptions"),
        ("PUT", f"{dev}/items/{item['uuid']}", "custom"),
        ("PUT", f"{dev}/variables/{variable['uuid']}", "configurationComputed"),
        ("PUT", f"{dev}/variables/{variable['uuid']}", "overrideFields"),
    ):
        text = f'{{"{field}": {{"a": [1, {{"b": {number}}}]}}}}'
        message = refused(raw_json(api, method, url, text), field)
        assert "finite" in message and "a[1].b" in message, message
    # nothing was stored
    assert api.get(f"{base}/sites/{site['uuid']}").json()["configurationOptions"] is None


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_free_form_objects_are_bounded_in_depth_and_size(api, ca, site, device):
    url = f"/api/v1/ca/{ca['uuid']}/sites/{site['uuid']}"
    for depth in (33, 900):
        r = raw_json(api, "PUT", url, json.dumps({"configurationOptions": nested(depth)}))
        assert "deeper than 32 levels" in refused(r, "configurationOptions")
    ok = api.put(url, json={"configurationOptions": nested(32)})
    assert ok.status_code == 200 and ok.json()["configurationOptions"] == nested(32)
    r = api.put(url, json={"configurationOptions": {"blob": "x" * (64 * 1024)}})
    assert "64 KiB" in refused(r, "configurationOptions")
    dev = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}"
    r = raw_json(api, "PUT", dev, json.dumps({"custom": {"list": [nested(40)]}}))
    assert "deeper" in refused(r, "custom")


# -- paging and dates ---------------------------------------------------------------------------


@pytest.mark.parametrize("skip", [2**31, 2**63, 10**30])
def test_skip_is_bounded(api, ca, skip):
    for url in ("/api/v1/ca", f"/api/v1/ca/{ca['uuid']}/customers", "/api/v1/services"):
        assert "2147483647" in refused(api.get(url, params={"skip": skip}), "skip")
    last = api.get("/api/v1/ca", params={"skip": 2**31 - 1})
    assert last.status_code == 200 and last.json()["results"] == []


@pytest.mark.parametrize(
    "field,value",
    [
        ("from", "9999-12-31T23:00:00-05:00"),
        ("to", "0001-01-01T00:00:00+05:00"),
        ("from", "99999-01-01"),
        ("to", "2024-13-01T00:00:00Z"),
    ],
)
def test_log_instants_out_of_range(api, ca, field, value):
    refused(api.get(f"/api/v1/ca/{ca['uuid']}/logs", params={field: value}), field)


# -- icons ---------------------------------------------------------------------------------------


def png_claiming(width: int, height: int) -> bytes:
    """A tiny but well-formed PNG whose header claims the given dimensions."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("side", [100_000, 20_000, 4097])
def test_icons_with_huge_dimensions_are_refused(api, ca, side):
    url = f"/api/v1/ca/{ca['uuid']}/customers/{factories.customer(api, ca)['uuid']}/icon"
    image = png_claiming(side, side)
    assert len(image) < 200
    r = api.put(url, files={"file": ("bomb.png", image, "image/png")})
    assert "image dimensions too large" in refused(r, "file", 415)
    r = api.put(url, content=image, headers={"content-type": "image/png"})
    assert "image dimensions too large" in refused(r, "file", 415)


def test_huge_icon_uploads_are_refused(api, ca):
    url = f"/api/v1/ca/{ca['uuid']}/customers/{factories.customer(api, ca)['uuid']}/icon"
    big = png_claiming(16, 16) + b"\0" * (3 * 1024 * 1024)
    r = api.put(url, files={"file": ("big.png", big, "image/png")})
    assert "KiB" in refused(r, "file", 413)
    r = api.put(url, content=big, headers={"content-type": "image/png"})
    assert "KiB" in refused(r, "file", 413)
    # a file just over the limit, inside a body that fits the multipart framing allowance
    r = api.put(url, files={"file": ("big.png", b"\0" * (1024 * 1024 + 1), "image/png")})
    refused(r, "file", 413)
    r = api.put(
        url, content=b"--x\r\n", headers={"content-type": "multipart/form-data; boundary=y"}
    )
    refused(r, "file")
    assert api.get(url).status_code == 404


# -- the database's own refusals stay a 400 without SQL or parameters ---------------------------


def test_database_data_errors_are_400_without_sql():
    app = FastAPI()
    handlers.install(app)

    @app.get("/boom")
    def boom() -> None:
        reason = Exception("value too long for type character varying(32)\nLINE 1: INSERT ...")
        raise DataError(
            "INSERT INTO customers (name) VALUES (%(name)s)", {"name": "secret"}, reason
        )

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    r = asyncio.run(get())
    assert r.status_code == 400 and set(r.json()) == SHAPE
    assert r.json()["message"] == (
        "A value is out of range or not accepted by the database: "
        "value too long for type character varying(32)"
    )
