"""The OpenAPI document lists every endpoint of spec sections 5.3 to 5.7 with the spec's
own summary and tag, and Swagger UI is served from local files only."""

import json
import re
import uuid

import pytest

CA = "/api/v1/ca/{corporateAccountUuid}"
# (tag, method, path, summary) copied from the spec's method tables
SPEC_ENDPOINTS = [
    ("Corporate Accounts", "get", "/api/v1/ca", "Get the pagination for corporate accounts"),
    ("Corporate Accounts", "get", CA, "Get corporate account by UUID"),
    ("Corporate Accounts", "post", "/api/v1/ca", "Create a new corporate account."),
    ("Corporate Accounts", "put", CA, "Update one corporate account."),
    ("Customers", "delete", CA + "/customers/{customerUuid}", "Delete a customer"),
    ("Customers", "get", CA + "/customers", "Get the pagination for customers"),
    ("Customers", "get", CA + "/customers/{customerUuid}", "Get customer by UUID"),
    ("Customers", "get", CA + "/customers/{customerUuid}/icon", "Get customer icon image"),
    ("Customers", "post", CA + "/customers", "Create a new customer"),
    ("Customers", "put", CA + "/customers/{customerUuid}", "Update a customer"),
    ("Customers", "put", CA + "/customers/{customerUuid}/icon", "Update a customer icon"),
    ("Sites", "delete", CA + "/sites/{siteUuid}", "Delete a site"),
    ("Sites", "get", CA + "/sites/count", None),
    ("Sites", "get", CA + "/sites", "Get the pagination for sites"),
    ("Sites", "get", CA + "/sites/{siteUuid}", "Get site by UUID"),
    ("Sites", "post", CA + "/sites", "Create a new site"),
    ("Sites", "put", CA + "/sites/{siteUuid}", "Update a site"),
    ("Devices", "delete", CA + "/devices/{deviceUuid}", "Delete a device"),
    ("Devices", "delete", CA + "/devices/{deviceUuid}/share/{siteUuid}", "Cancel sharing"),
    ("Devices", "get", CA + "/devices", "Get the pagination for devices"),
    ("Devices", "get", CA + "/devices/{deviceUuid}/gateway", "Get parent gateway from device UUID"),
    ("Devices", "get", CA + "/devices/{deviceUuid}", "Get device by UUID"),
    ("Devices", "get", CA + "/devices/{deviceUuid}/icon", "Get device icon image"),
    ("Devices", "post", CA + "/devices", "Create a new device"),
    ("Devices", "post", CA + "/devices/pre-create", "Pre-create a new device"),
    ("Devices", "post", CA + "/devices/link", "Link a new device"),
    ("Devices", "put", CA + "/devices/{deviceUuid}", "Update a device"),
    ("Devices", "put", CA + "/devices/{deviceUuid}/icon", "Update a device icon"),
    ("Devices", "put", CA + "/devices/repair-devices", "Repair all devices"),
    ("Devices", "put", CA + "/devices/{deviceUuid}/activate", "Activate a device"),
    ("Devices", "put", CA + "/devices/{deviceUuid}/deactivate", "Deactivate a device"),
    ("Devices", "put", CA + "/devices/{deviceUuid}/push-profile", "Push the profile"),
    ("Devices", "put", CA + "/devices/{deviceUuid}/repair", "Repair a device"),
    (
        "Variables",
        "delete",
        CA + "/devices/{deviceUuid}/variables/{variableUuid}",
        "Delete a variable.",
    ),
    ("Variables", "get", CA + "/devices/{deviceUuid}/variables", "Get all variables from a device"),
    (
        "Variables",
        "get",
        CA + "/devices/{deviceUuid}/variables/{variableUuid}",
        "Get variable by UUID",
    ),
    ("Variables", "post", CA + "/batch-devices/{deviceUuid}/variables", "Add many variables."),
    ("Variables", "post", CA + "/variables", "Get the pagination for variables"),
    ("Variables", "post", CA + "/devices/{deviceUuid}/variables", "Add one variable."),
    ("Variables", "put", CA + "/batch-devices/{deviceUuid}/variables", "Update many variables."),
    (
        "Variables",
        "put",
        CA + "/devices/{deviceUuid}/variables/{variableUuid}",
        "Update one variable.",
    ),
]


@pytest.fixture(scope="module")
def openapi(api):
    r = api.get("/swagger-api-json/v1")
    assert r.status_code == 200
    return r.json()


@pytest.mark.parametrize(
    "tag,method,path,summary", SPEC_ENDPOINTS, ids=[f"{m} {p}" for _, m, p, _ in SPEC_ENDPOINTS]
)
def test_spec_endpoint_is_documented(openapi, tag, method, path, summary):
    operation = openapi["paths"].get(path, {}).get(method)
    assert operation is not None, f"{method.upper()} {path} is missing"
    assert tag in operation["tags"]
    if summary:
        assert operation["summary"] == summary
    for name in re.findall(r"{(\w+)}", path):
        params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
        assert name in params and params[name]["required"]


def test_paged_lists_document_take_and_skip(openapi):
    for path in ("/api/v1/ca", CA + "/customers", CA + "/sites", CA + "/devices"):
        params = {p["name"]: p for p in openapi["paths"][path]["get"]["parameters"]}
        assert (
            params["take"]["schema"]["default"] == 50
            and params["take"]["schema"]["maximum"] == 1000
        )
        assert params["skip"]["schema"]["default"] == 0
        assert "sortBy" in params


def test_tags_follow_the_spec_groups(openapi):
    names = [t["name"] for t in openapi["tags"]]
    for group in (
        "Corporate Accounts",
        "Customers",
        "Sites",
        "Devices",
        "Items",
        "Variables",
        "Data Access Groups",
        "Logs",
    ):
        assert group in names


def test_swagger_ui_is_served_from_local_files(api):
    page = api.get("/docs/swagger-ui/index.html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and not [a for a in assets if "//" in a], "no asset may come from another host"
    for asset in assets:
        r = api.get(f"/docs/swagger-ui/{asset.removeprefix('./')}")
        assert r.status_code == 200 and len(r.content) > 100, asset
    init = api.get("/docs/swagger-ui/swagger-initializer.js").text
    assert '"/swagger-api-json/v1"' in init and "http" not in init.replace(
        "window.location.origin", ""
    )
    assert (
        api.get("/docs", follow_redirects=False).headers["location"]
        == "/docs/swagger-ui/index.html"
    )


ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def test_operations_document_the_errors_the_server_sends(openapi):
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(openapi)))
    assert refs - set(schemas) == set(), "every $ref names a schema of the document"
    assert set(schemas["ErrorBody"]["required"]) == {"statusCode", "message", "error"}
    operations = [
        (path, method, op)
        for path, ops in openapi["paths"].items()
        for method, op in ops.items()
        if path.startswith("/api/")
    ]
    assert len(operations) > 60
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        assert "422" not in responses, where
        assert responses["400"]["content"]["application/json"]["schema"] == ERROR_BODY, where
        if re.search(r"{\w+Uuid}", path):
            assert responses["404"]["content"]["application/json"]["schema"] == ERROR_BODY, where
        if method == "put" or (method == "post" and "201" in responses):
            assert "409" in responses, where
        if method == "get":
            assert "409" not in responses, where
        is_upload = path.endswith("/icon") and method == "put"
        assert ("413" in responses and "415" in responses) == is_upload, where


def test_sort_by_lists_the_fields_the_server_accepts(api, openapi):
    ca = api.post("/api/v1/ca", json={"name": f"OpenAPI sort {uuid.uuid4().hex[:8]}"}).json()
    checked = 0
    for path, ops in openapi["paths"].items():
        op = ops.get("get")
        params = {p["name"]: p for p in (op or {}).get("parameters", [])}
        if "sortBy" not in params or set(re.findall(r"{(\w+)}", path)) - {"corporateAccountUuid"}:
            continue
        listed = re.search(r"one of: ([\w, ]+);", params["sortBy"]["description"])
        assert listed, path
        # an enum of every spelling the server takes: field, -field, field:asc, field:desc
        forms = [
            form
            for field in listed.group(1).split(", ")
            for form in (field, f"-{field}", f"{field}:asc", f"{field}:desc")
        ]
        assert enum_of(params["sortBy"]) == forms, path
        url = path.replace("{corporateAccountUuid}", ca["uuid"])
        for sort_by in forms:
            r = api.get(url, params={"sortBy": sort_by, "take": 1})
            assert r.status_code == 200, (path, sort_by, r.text)
        assert api.get(url, params={"sortBy": "notAField"}).status_code == 400
        checked += 1
    assert checked >= 7


def enum_of(parameter: dict) -> list[str]:
    """The values of an optional string parameter declared as an enum."""
    options = parameter["schema"].get("anyOf", [parameter["schema"]])
    (string,) = [o for o in options if o.get("type") == "string"]
    return string["enum"]


def test_details_level_is_an_enum_of_what_the_server_takes(api, openapi):
    ca = api.post("/api/v1/ca", json={"name": f"OpenAPI details {uuid.uuid4().hex[:8]}"}).json()
    checked = 0
    for path, ops in openapi["paths"].items():
        params = {p["name"]: p for p in ops.get("get", {}).get("parameters", [])}
        if "detailsLevel" not in params:
            continue
        assert enum_of(params["detailsLevel"]) == ["DEFAULT", "ALL"], path
        if set(re.findall(r"{(\w+)}", path)) - {"corporateAccountUuid"}:
            continue
        url = path.replace("{corporateAccountUuid}", ca["uuid"])
        for level in ("DEFAULT", "ALL"):
            assert api.get(url, params={"detailsLevel": level}).status_code == 200, path
        assert api.get(url, params={"detailsLevel": "MOST"}).status_code == 400, path
        checked += 1
    assert checked >= 3


def _nullable(schema: dict) -> bool:
    return {"type": "null"} in schema.get("anyOf", [])


def test_update_bodies_declare_null_only_where_the_server_takes_it(api, openapi):
    """A field sent as null is refused where the object cannot hold null (PUT is a partial
    update: leave the field out to keep it): the schema does not declare it nullable there."""
    schemas = openapi["components"]["schemas"]
    for model in ("CorporateAccountUpdate", "CustomerUpdate", "SiteUpdate", "DeviceUpdate"):
        assert not _nullable(schemas[model]["properties"]["name"]), model
    assert not _nullable(schemas["CorporateAccountUpdate"]["properties"]["active"])
    assert not _nullable(schemas["VariableUpdate"]["properties"]["active"])
    assert _nullable(schemas["CorporateAccountUpdate"]["properties"]["emailTo"])
    # what the server does with a null, field by field, for two update bodies
    ca = api.post("/api/v1/ca", json={"name": f"OpenAPI nulls {uuid.uuid4().hex[:8]}"}).json()
    customer = api.post(f"/api/v1/ca/{ca['uuid']}/customers", json={"name": "Nulls"}).json()
    for url in (
        f"/api/v1/ca/{ca['uuid']}",
        f"/api/v1/ca/{ca['uuid']}/customers/{customer['uuid']}",
    ):
        body = openapi["paths"][url_template(openapi, url)]["put"]["requestBody"]
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for field, schema in schemas[ref]["properties"].items():
            r = api.put(url, json={field: None})
            if _nullable(schema):
                assert r.status_code == 200, (ref, field, r.text)
            else:
                assert r.status_code == 400, (ref, field, r.text)
                assert r.json()["message"].startswith(f"{field}: "), r.text


def url_template(openapi: dict, url: str) -> str:
    """The documented path a concrete URL is an instance of."""
    for path in openapi["paths"]:
        if re.fullmatch(re.sub(r"{\w+}", "[^/]+", path), url):
            return path
    raise AssertionError(url)
