"""The access matrix: every /api/v1 operation of the server's OpenAPI document, called as every
kind of caller.

Callers: admin@ (platform operator), demo@ (admin of SoLink), viewer@ (viewer in SoLink),
other@ (manager in Energy Storage only), and four bad tokens: none, an expired one, one signed
by another key (same kid) and one of another realm. Path parameters are real demo objects, so
that a refusal is a matter of rights, not of a missing object.

The demo data stays as it is for the other tests: changes that are allowed are made only by
admin@ on objects it creates for the case in its own corporate account (data points too: they
go to a device made for the case); demo@'s allowed writes on SoLink aim at an object that does
not exist (404) or send a body that is refused (400) - the answer proves that the rights check
let them through, and nothing changes. The reads that take a body (the variables search, the
data points and the last values) get a real one naming demo objects.
"""

from __future__ import annotations

import base64
import inspect
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from sodata.access import scope
from sodata.access.principal import Right
from sodata.app import create_app
from sodata.config import Settings
from sodata.demo import ids
from sodata.models import SigningKey
from tests.conftest import PG_ADMIN_URL, PasswordGrant, Server, client_as, unique

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
API = "/api/v1"
CA_PARAM = "corporateAccountUuid"
# Operations that read although their method is not GET: the variables search takes its
# filters in the body, the data points and the last values name their devices there.
DATAPOINTS = f"{API}/ca/{{{CA_PARAM}}}/datapoints"
LAST_VALUES = f"{API}/ca/{{{CA_PARAM}}}/last-values"
DEVICE_DATAPOINTS = f"{API}/ca/{{{CA_PARAM}}}/devices/{{deviceUuid}}/datapoints"
# reads whose body names the device (so a device of another account there is a 404)
BODY_NAMES_DEVICES = {("PUT", DATAPOINTS), ("PUT", LAST_VALUES)}
READ_ONLY = {("POST", f"{API}/ca/{{{CA_PARAM}}}/variables")} | BODY_NAMES_DEVICES
USERS = {
    "admin": ids.ADMIN_EMAIL,
    "demo": ids.DEMO_EMAIL,
    "viewer": ids.VIEWER_EMAIL,
    "other": ids.OTHER_EMAIL,
}
BAD_TOKENS = ("no-token", "expired", "foreign-key", "other-realm")
# The kind of demo object each path parameter names.
PARAM_KINDS = {
    CA_PARAM: "ca",
    "customerUuid": "customer",
    "siteUuid": "site",
    "deviceUuid": "device",
    "itemUuid": "item",
    "variableUuid": "variable",
    "dataAccessGroupUuid": "dag",
    "logUuid": "log",
    "userUuid": "user",
    "clientUuid": "client",
    "serviceId": "service",
    "deviceTypeUid": "device_type",
}
Objects = Callable[[str], str]  # kind of object -> its uuid (or id) in the target
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The role each demo user holds in the account it belongs to (admin@ is a platform operator).
HELD = {"demo": Right.admin, "viewer": Right.read, "other": Right.write}


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    params: tuple[str, ...]  # path parameters, in path order
    query: frozenset[str]
    body: str | None  # "json" (an object), "array", "icon" (an image upload) or None
    success: int  # the 2xx status the document promises
    right: Right | None = None  # the role it needs in the account (from access.scope)
    platform: bool = False  # platform administrators only

    @property
    def id(self) -> str:
        return f"{self.method} {self.path.removeprefix(API)}"

    @property
    def reads(self) -> bool:
        return self.method == "GET" or (self.method, self.path) in READ_ONLY

    @property
    def in_account(self) -> bool:
        return CA_PARAM in self.params

    @property
    def objects(self) -> tuple[str, ...]:
        """The path parameters below the corporate account."""
        return tuple(p for p in self.params if p != CA_PARAM)

    def url(self, values: dict[str, str]) -> str:
        return self.path.format(**{p: values[p] for p in self.params})

    def allows(self, held: Right) -> bool:
        return not self.platform and (self.right is None or held >= self.right)


def _body_kind(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    if "multipart/form-data" in content:
        return "icon"
    schema = content.get("application/json", {}).get("schema", {})
    return "array" if schema.get("type") == "array" else "json"


def operations(document: dict[str, Any]) -> list[Op]:
    ops = []
    for path, methods in document["paths"].items():
        if not path.startswith(API + "/"):
            continue
        for method, operation in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = operation.get("parameters", [])
            ops.append(
                Op(
                    method=method.upper(),
                    path=path,
                    params=tuple(
                        sorted(
                            (p["name"] for p in params if p["in"] == "path"),
                            key=lambda name: path.index("{" + name + "}"),
                        )
                    ),
                    query=frozenset(p["name"] for p in params if p["in"] == "query"),
                    body=_body_kind(operation),
                    success=min(int(s) for s in operation["responses"] if s.startswith("2")),
                )
            )
    return ops


def _rights(dependant: Any) -> tuple[set[Right], bool]:
    """The account roles and the platform right the route's dependencies ask access.scope for."""
    rights, platform = set(), False
    for dep in dependant.dependencies:
        if dep.call is scope._platform_admin:
            platform = True
        elif getattr(dep.call, "__qualname__", "") == "_corporate_account.<locals>.dependency":
            rights.add(inspect.getclosurevars(dep.call).nonlocals["right"])
        sub_rights, sub_platform = _rights(dep)
        rights, platform = rights | sub_rights, platform or sub_platform
    return rights, platform


def _routes(routes: list[Any]) -> Iterator[Any]:
    """The routes, those of included routers too (FastAPI includes routers lazily)."""
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _routes(route.original_router.routes)
        else:
            yield route


def _collect() -> list[Op]:
    """Every /api/v1 operation of the application, with the rights its route asks for."""
    app = create_app(Settings(database_url="sqlite://"))
    needs = {}
    for route in _routes(app.routes):
        if hasattr(route, "dependant") and route.path.startswith(API + "/"):
            rights, platform = _rights(route.dependant)
            for method in route.methods:
                needs[(method, route.path)] = (max(rights, default=None), platform)
    return [
        replace(op, right=needs[(op.method, op.path)][0], platform=needs[(op.method, op.path)][1])
        for op in operations(app.openapi())
    ]


# Collected from the application itself, so that every route is in the matrix the moment it
# exists; test_the_matrix_is_the_served_document checks it is what the server serves.
OPS = _collect()


@dataclass(frozen=True)
class Case:
    op: Op
    caller: str
    target: str  # whose objects fill the path: solink, socomec, energy-storage, sandbox, cross
    invalid_body: bool = False

    @property
    def id(self) -> str:
        return f"{self.op.id} | {self.caller} | {self.target}" + (
            " | invalid body" if self.invalid_body else ""
        )


def _cases() -> Iterator[Case]:
    for op in OPS:
        for caller in BAD_TOKENS:
            yield Case(op, caller, "solink")
        for caller in ("other", "viewer"):
            yield Case(op, caller, "solink")
            if not op.reads and op.body:
                # the refusal comes before the body is read
                yield Case(op, caller, "solink", invalid_body=True)
        if op.reads or op.objects or op.body:  # a bodiless change of a whole account is real
            yield Case(op, "demo", "solink")
        yield Case(op, "admin", "solink" if op.reads else "sandbox")
        if op.in_account:
            yield Case(op, "demo", "socomec")
            yield Case(op, "demo", "energy-storage")
            if op.reads or op.objects:
                # other@ in its own account, naming SoLink's objects
                yield Case(op, "other", "cross")


CASES = list(_cases())


# --- tokens -----------------------------------------------------------------------------------


def _database_url(server: Server) -> str:
    """The database the server runs on, as tests/conftest.py lays it out."""
    if server.pg_name:
        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        return f"{base}/{server.pg_name}"
    return f"sqlite:///{server.log_path.parent / 'sodata-test.db'}"


def _signing_key(server: Server) -> SigningKey:
    engine = create_engine(_database_url(server))
    try:
        with Session(engine) as session:
            return session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.id.desc())
            ).first()
    finally:
        engine.dispose()


def token_claims(server: Server, email: str) -> dict[str, Any]:
    grant = PasswordGrant(server.url, email)
    answer = httpx.post(grant.token_url, data=grant.form, timeout=30)
    assert answer.status_code == 200, answer.text
    return jwt.decode(answer.json()["access_token"], options={"verify_signature": False})


def bad_tokens(server: Server, claims: dict[str, Any]) -> dict[str, str]:
    """A token of `claims`, spoiled three ways: expired, signed by another key under the
    server's kid, and issued for another realm (signed with the server's key)."""
    key = _signing_key(server)
    now = int(time.time())
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    master = claims["iss"].rsplit("/realms/", 1)[0] + "/realms/master"

    def sign(pem: str | bytes, **changes: Any) -> str:
        return jwt.encode({**claims, **changes}, pem, algorithm="RS256", headers={"kid": key.kid})

    return {
        "expired": sign(key.private_pem, iat=now - 900, exp=now - 600),
        "foreign-key": sign(other_key),
        "other-realm": sign(key.private_pem, iss=master),
    }


# --- the demo objects that fill the paths -----------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json()


def _first(api: httpx.Client, url: str) -> str | None:
    results = ok(api.get(url, params={"take": 1}))["results"]
    return results[0]["uuid"] if results else None


def demo_objects(api: httpx.Client, ca: uuid.UUID, user: str) -> dict[str, str | None]:
    """One object of each kind in a demo account (SoLink: the spec's own ones), None for a
    kind the account has none of; `user` is a member of the account; `other_site` is a site
    the device may be shared with."""
    base = f"{API}/ca/{ca}"
    if ca == ids.SOLINK:
        objects = {
            "customer": str(ids.FR_SOCOMEC),
            "site": str(ids.BENFELD_CDS),
            "other_site": str(ids.BENFELD_U3),
            "device": str(ids.MASTERYS_U2_CDS),
            "item": str(ids.MASTERYS_GLOBAL_ITEM),
            "variable": str(ids.MASTERYS_OVERLOAD_VARIABLE),
            "dag": str(ids.demo_uuid("data-access-group", "SoLink FR")),
            "client": _first(api, f"{base}/clients"),
        }
    else:
        devices = ok(api.get(f"{base}/devices", params={"take": 1000}))["results"]
        device = devices[0]
        sites = [s["uuid"] for s in ok(api.get(f"{base}/sites"))["results"]]
        objects = {
            "customer": _first(api, f"{base}/customers"),
            "site": device["siteUuid"],
            "other_site": next((s for s in sites if s != device["siteUuid"]), sites[0]),
            "device": device["uuid"],
            "item": _first(api, f"{base}/devices/{device['uuid']}/items"),
            "variable": _first(api, f"{base}/devices/{device['uuid']}/variables"),
            "dag": _first(api, f"{base}/data-access-groups"),
            "client": _first(api, f"{base}/clients"),
        }
    site = ok(api.get(f"{base}/sites/{objects['site']}"))
    return {
        **objects,
        "ca": str(ca),
        "log": _first(api, f"{base}/logs"),
        "user": user,
        "activation_key": site["activationKey"],
        "service": ok(api.get(f"{API}/services", params={"take": 1}))["results"][0]["serviceId"],
        "precreated_serial": _serial(),
        "device_type": str(ids.MASTERYS_TYPE),
    }


def _existing(found: dict[str, str | None]) -> Objects:
    """The objects of a demo account; a uuid that names nothing for a kind it has none of."""
    return lambda kind: found[kind] or str(uuid.uuid5(uuid.NAMESPACE_URL, f"sodata:none:{kind}"))


def path_values(op: Op, objects: Objects) -> dict[str, str]:
    """The path parameters of `op` from `objects` (kind -> value); a device is shared with
    another site than its own."""
    values = {}
    for name in op.params:
        kind = PARAM_KINDS.get(name, "unknown")
        if kind == "site" and "deviceUuid" in values:
            kind = "other_site"
        values[name] = objects(kind) if kind != "unknown" else str(uuid.uuid4())
    return values


def _serial() -> str:
    return unique("SN").replace(" ", "-")


def _new_user() -> dict[str, str]:
    return {
        "email": f"matrix-{uuid.uuid4().hex[:12]}@example.com",
        "role": "viewer",
        "name": unique("Matrix"),
        "password": "matrix-password",
    }


def _new_client() -> dict[str, str]:
    return {"clientId": f"matrix-{uuid.uuid4().hex[:12]}", "role": "viewer"}


# POST bodies by path below /ca/{corporateAccountUuid} (the account itself: ""); each asks
# `objects` only for what it names, so that the admin's fresh objects are made on demand.
POST_BODIES: dict[str, Callable[[Objects], Any]] = {
    "": lambda o: {"name": unique("Matrix")},
    "/customers": lambda o: {"name": unique("Matrix")},
    "/sites": lambda o: {"name": unique("Matrix"), "customerUuid": o("customer")},
    "/devices": lambda o: {
        "name": unique("Matrix"),
        "serialNumber": _serial(),
        "siteUuid": o("site"),
        "deviceTypeUid": o("device_type"),
    },
    "/devices/pre-create": lambda o: {"serialNumber": _serial(), "deviceTypeUid": o("device_type")},
    "/devices/link": lambda o: {
        "serialNumber": o("precreated_serial"),
        "activationKey": o("activation_key"),
    },
    "/devices/{deviceUuid}/items": lambda o: {"itemType": "Matrix", "index": "7"},
    "/devices/{deviceUuid}/variables": lambda o: _variable(o),
    "/batch-devices/{deviceUuid}/variables": lambda o: [_variable(o)],
    "/variables": lambda o: {},
    "/data-access-groups": lambda o: {"name": unique("Matrix")},
    "/users": lambda o: _new_user(),
    "/clients": lambda o: _new_client(),
}


def _variable(objects: Objects) -> dict[str, str]:
    return {"itemType": "Global", "itemIndex": "0", "serviceId": objects("service")}


# Bodies of the data points operations: a day of the demo history of the device's variable,
# its last values; a point sent to the device's variable.
DATA_BODIES: dict[tuple[str, str], Callable[[Objects], Any]] = {
    ("PUT", DATAPOINTS): lambda o: {
        "from": "2022-05-18T00:00:00Z",
        "to": "2022-05-19T00:00:00Z",
        "granularity": "raw",
        "series": [{"deviceUuid": o("device"), "variableUuid": o("variable")}],
    },
    ("PUT", LAST_VALUES): lambda o: {"deviceUuids": [o("device")]},
    ("POST", DEVICE_DATAPOINTS): lambda o: {
        "series": [
            {"variableUuid": o("variable"), "data": [{"at": "2022-05-18T00:00:00Z", "value": 1}]}
        ]
    },
}


def body(op: Op, objects: Objects) -> Any:
    """A minimal valid body for `op`, its references taken from `objects`; None where none is
    known ({} is sent, and a caller allowed to write may get a 400)."""
    if not op.body:
        return None
    if (make := DATA_BODIES.get((op.method, op.path))) is not None:
        return make(objects)
    suffix = op.path.removeprefix(f"{API}/ca").removeprefix(f"/{{{CA_PARAM}}}")
    if op.method == "PUT" and op.body == "array":
        return [{"uuid": objects("variable"), "label": unique("Matrix")}]
    if op.method == "PUT" and op.body == "json":
        return {"label" if suffix.endswith("{variableUuid}") else "name": unique("Matrix")}
    make = POST_BODIES.get(suffix) if op.method == "POST" else None
    return None if make is None else make(objects)


def invalid_body(op: Op) -> dict[str, Any]:
    """A body no operation accepts (for an image upload: bytes that are no image)."""
    return {"json": {"matrixProbe": True}, "array": [], "icon": {}}[op.body or "json"]


def send(
    client: httpx.Client, op: Op, values: dict[str, str], payload: Any, bad: bool = False
) -> httpx.Response:
    params = {"take": 1000} if "take" in op.query else None
    kwargs: dict[str, Any] = {}
    if op.body == "icon":
        if bad:
            kwargs["content"], kwargs["headers"] = b"no image", {"content-type": "image/png"}
        else:
            kwargs["files"] = {"file": ("icon.png", PNG, "image/png")}
    elif op.body:
        kwargs["json"] = {} if payload is None else payload
    return client.request(op.method, op.url(values), params=params, **kwargs)


# --- the admin's own objects, made afresh for each allowed change ------------------------------


@dataclass
class Fresh:
    """Objects made for one admin write in the test's own corporate account, made on demand
    (a customer to delete gets no site, a site to delete no device)."""

    api: httpx.Client
    ca: str
    base: str = field(init=False)

    def __post_init__(self) -> None:
        self.base = f"{API}/ca/{self.ca}"

    def __call__(self, kind: str) -> str:
        return getattr(self, kind)

    def _post(self, path: str, payload: Any) -> dict[str, Any]:
        return ok(self.api.post(self.base + path, json=payload), 201)

    @cached_property
    def customer(self) -> str:
        return self._post("/customers", {"name": unique("Matrix")})["uuid"]

    @cached_property
    def site(self) -> str:
        return self._site()["uuid"]

    @cached_property
    def activation_key(self) -> str:
        return ok(self.api.get(f"{self.base}/sites/{self.site}"))["activationKey"]

    @cached_property
    def other_site(self) -> str:
        return self._site()["uuid"]

    def _site(self) -> dict[str, Any]:
        return self._post("/sites", {"name": unique("Matrix"), "customerUuid": self.customer})

    @cached_property
    def device(self) -> str:
        return self._post(
            "/devices",
            {
                "name": unique("Matrix"),
                "serialNumber": _serial(),
                "siteUuid": self.site,
                "deviceTypeUid": str(ids.MASTERYS_TYPE),
            },
        )["uuid"]

    @cached_property
    def item(self) -> str:
        return self._post(f"/devices/{self.device}/items", {"itemType": "Spare", "index": "1"})[
            "uuid"
        ]

    @cached_property
    def variable(self) -> str:
        variables = ok(self.api.get(f"{self.base}/devices/{self.device}/variables"))["results"]
        return variables[0]["uuid"]

    @cached_property
    def service(self) -> str:
        """A service of the catalog that has no variable on the device's item Global 0."""
        variables = ok(self.api.get(f"{self.base}/devices/{self.device}/variables"))["results"]
        used = {
            v["serviceId"] for v in variables if (v["itemType"], v["itemIndex"]) == ("Global", "0")
        }
        services = ok(self.api.get(f"{API}/services", params={"take": 1000}))["results"]
        return next(s["serviceId"] for s in services if s["serviceId"] not in used)

    @cached_property
    def dag(self) -> str:
        return self._post("/data-access-groups", {"name": unique("Matrix")})["uuid"]

    @cached_property
    def user(self) -> str:
        """A viewer of the account (admin@ may not remove or disable itself)."""
        return self._post("/users", _new_user())["uuid"]

    @cached_property
    def client(self) -> str:
        return self._post("/clients", _new_client())["uuid"]

    @cached_property
    def precreated_serial(self) -> str:
        serial = _serial()
        self._post(
            "/devices/pre-create", {"serialNumber": serial, "deviceTypeUid": str(ids.MASTERYS_TYPE)}
        )
        return serial

    @cached_property
    def device_type(self) -> str:
        return str(ids.MASTERYS_TYPE)


def _add_to_dag(kind: str, attr: str) -> Callable[[Fresh], Any]:
    return lambda f: ok(f.api.put(f"{f.base}/data-access-groups/{f.dag}/{kind}/{f(attr)}"))


DAG = "/data-access-groups/{dataAccessGroupUuid}"
# State some changes need first: (method, path suffix) -> what to do with the fresh objects.
SANDBOX_SETUP: dict[tuple[str, str], Callable[[Fresh], Any]] = {
    ("PUT", "/devices/{deviceUuid}/activate"): lambda f: ok(
        f.api.put(f"{f.base}/devices/{f.device}/deactivate")
    ),
    ("DELETE", "/devices/{deviceUuid}/share/{siteUuid}"): lambda f: ok(
        f.api.post(f"{f.base}/devices/{f.device}/share/{f.other_site}"), 201
    ),
    ("DELETE", DAG + "/customers/{customerUuid}"): _add_to_dag("customers", "customer"),
    ("DELETE", DAG + "/devices/{deviceUuid}"): _add_to_dag("devices", "device"),
    ("DELETE", DAG + "/users/{userUuid}"): _add_to_dag("users", "user"),
}


# --- the matrix --------------------------------------------------------------------------------


@dataclass
class Matrix:
    clients: dict[str, httpx.Client]
    objects: dict[str, dict[str, str | None]]  # target -> kind -> value (None: there is none)
    solink_uuids: set[str]  # every SoLink object other@ must never see
    hidden_from_demo: set[str]  # the other demo accounts
    sandbox: str  # admin@'s own corporate account

    @property
    def admin(self) -> httpx.Client:
        return self.clients["admin"]


def _uuids(api: httpx.Client, url: str) -> set[str]:
    return {o["uuid"] for o in ok(api.get(url, params={"take": 1000}))["results"]}


@pytest.fixture(scope="module")
def matrix(server: Server) -> Iterator[Matrix]:
    clients = {name: client_as(server, email) for name, email in USERS.items()}
    clients["no-token"] = httpx.Client(base_url=server.url, timeout=30)
    admin_claims = token_claims(server, ids.ADMIN_EMAIL)
    for name, token in bad_tokens(server, admin_claims).items():
        clients[name] = httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {token}"}
        )
    api = clients["admin"]
    dag_users = ok(
        api.get(
            f"{API}/ca/{ids.SOLINK}/data-access-groups/"
            f"{ids.demo_uuid('data-access-group', 'SoLink FR')}/users"
        )
    )["results"]
    viewer_uuid = next(u["uuid"] for u in dag_users if u["email"] == ids.VIEWER_EMAIL)
    admin_uuid = admin_claims["sub"]  # a member of SOCOMEC and Energy Storage
    objects = {
        "solink": demo_objects(api, ids.SOLINK, viewer_uuid),
        "socomec": demo_objects(api, ids.SOCOMEC, admin_uuid),
        "energy-storage": demo_objects(api, ids.ENERGY_STORAGE, admin_uuid),
    }
    # other@'s own account, naming SoLink's objects
    objects["cross"] = {**objects["solink"], "ca": str(ids.ENERGY_STORAGE)}
    base = f"{API}/ca/{ids.SOLINK}"
    solink_uuids = {
        objects["solink"][k]
        for k in (
            "ca",
            "customer",
            "site",
            "other_site",
            "device",
            "item",
            "variable",
            "dag",
            "log",
        )
    }
    solink_uuids.add(viewer_uuid)
    for kind in ("customers", "sites", "devices", "data-access-groups", "logs", "clients"):
        solink_uuids |= _uuids(api, f"{base}/{kind}")
    hidden = {str(ids.SOCOMEC), str(ids.ENERGY_STORAGE)}
    for ca in (ids.SOCOMEC, ids.ENERGY_STORAGE):
        for kind in ("customers", "sites", "devices"):
            hidden |= _uuids(api, f"{API}/ca/{ca}/{kind}")
    sandbox = ok(api.post(f"{API}/ca", json={"name": unique("Matrix sandbox")}), 201)["uuid"]
    yield Matrix(clients, objects, solink_uuids, hidden, sandbox)
    for client in clients.values():
        client.close()


def _randomized(values: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {k: str(uuid.uuid4()) if k in names else v for k, v in values.items()}


def assert_same_404(
    m: Matrix,
    client: httpx.Client,
    op: Op,
    values: dict[str, str],
    payload: Any,
    got: httpx.Response,
) -> None:
    """The 404 for an existing object the caller may not see says what the 404 for a uuid
    that names nothing says: nothing tells them apart."""
    names = op.params if values[CA_PARAM] != str(ids.ENERGY_STORAGE) else op.objects
    names = tuple(n for n in names if n in PARAM_KINDS)
    random = _randomized(values, names)
    swapped: dict[str, str] = {}  # uuids of the body -> random ones
    if (op.method, op.path) in BODY_NAMES_DEVICES:
        text = json.dumps(payload)
        for found in set(UUID.findall(text)):
            swapped[found] = str(uuid.uuid4())
            text = text.replace(found, swapped[found])
        payload = json.loads(text)
    twin = send(client, op, random, payload)
    assert twin.status_code == 404, twin.text
    message = twin.json()["message"]
    for name in names:
        message = message.replace(random[name], values[name])
    for original, replacement in swapped.items():
        message = message.replace(replacement, original)
    assert got.json()["message"] == message


def assert_no_leak(got: httpx.Response, hidden: set[str]) -> None:
    seen = {u for u in hidden if u in got.text}
    assert not seen, f"{got.request.url} shows objects the caller may not see: {sorted(seen)[:5]}"
    answer = (
        got.json() if got.headers.get("content-type", "").startswith("application/json") else {}
    )
    if isinstance(answer, dict) and isinstance(answer.get("results"), list) and "total" in answer:
        if len(answer["results"]) < answer.get("take", 1000):
            assert answer["total"] == len(answer["results"]), "the total counts hidden objects"


def expected(case: Case) -> set[int]:
    op, caller, target = case.op, case.caller, case.target
    if caller in BAD_TOKENS:
        return {401}
    if caller == "admin":
        known = not op.body or body(op, lambda _: "") is not None
        return {op.success} if known else {op.success, 400}
    if not op.in_account:  # the account list, creating an account, the catalog
        return {200} if op.allows(Right.read) else {403}
    if target in ("socomec", "energy-storage") or (caller, target) == ("other", "solink"):
        return {404}  # no member of the account: it does not exist for them
    if not op.allows(HELD[caller]):
        return {403}
    if caller == "demo":  # allowed, aiming at nothing or sending a refused body
        return {200} if op.reads else {404} if op.objects else {400}
    if caller == "viewer":
        return {200, 404} if op.objects else {200}
    # other@ in Energy Storage naming SoLink's objects: nothing there; its own lists
    if (op.method, op.path) in BODY_NAMES_DEVICES:
        return {404}
    if not op.objects:
        return {200}
    return {404} if op.reads or not op.body else {400, 404}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_access(matrix: Matrix, case: Case) -> None:
    m, op = matrix, case.op
    client = m.clients[case.caller]
    want = expected(case)
    if case.target == "sandbox":
        objects: Objects = Fresh(m.admin, m.sandbox)
        suffix = op.path.removeprefix(f"{API}/ca/{{{CA_PARAM}}}")
        if (setup := SANDBOX_SETUP.get((op.method, suffix))) is not None:
            setup(objects)
    else:
        objects = _existing(m.objects[case.target])
        if any(m.objects[case.target].get(PARAM_KINDS.get(p, "")) is None for p in op.objects):
            # the demo account has no such object: found nowhere
            want = {404 if 200 <= s < 300 else s for s in want}
    values = path_values(op, objects)
    payload = invalid_body(op) if case.invalid_body else body(op, objects)
    if case.caller == "demo" and case.target == "solink" and not op.reads:
        # allowed: aim at nothing (404), or, with no object to aim at, send a refused body (400)
        if op.objects:
            values = _randomized(values, op.objects[-1:])
        else:
            payload = invalid_body(op)
    got = send(client, op, values, payload, bad=case.invalid_body)
    assert got.status_code < 500, got.text
    assert got.status_code in want, (
        f"{case.id}: {got.status_code} {got.text[:300]} (expected {sorted(want)})"
    )
    if got.status_code == 401:
        assert got.headers.get("www-authenticate", "").startswith("Bearer"), got.headers
    not_a_member = case.caller == "other" or case.target in ("socomec", "energy-storage")
    if got.status_code == 404 and not_a_member and op.in_account:
        assert_same_404(m, client, op, values, payload, got)
    if got.status_code == 200 and op.reads:
        if case.caller == "other":
            assert_no_leak(got, m.solink_uuids)
        elif case.caller in ("demo", "viewer"):
            assert_no_leak(got, m.hidden_from_demo)


def test_the_matrix_is_the_served_document(anonymous: httpx.Client) -> None:
    """The operations of the matrix are those the server serves, and all of them are called
    by every kind of caller."""
    served = operations(ok(anonymous.get("/swagger-api-json/v1")))
    assert {o.id for o in served} == {o.id for o in OPS}
    assert len(OPS) >= 60
    callers = {c.caller for c in CASES}
    for op in OPS:
        assert {c.caller for c in CASES if c.op == op} == callers, op.id


def test_every_change_needs_a_manager_at_least() -> None:
    """So that a viewer may change nothing (and the matrix never changes the demo data)."""
    for op in OPS:
        if not op.reads:
            assert op.platform or (op.right is not None and op.right >= Right.write), op.id


def test_every_path_parameter_names_a_demo_object() -> None:
    unknown = {p for op in OPS for p in op.params} - set(PARAM_KINDS)
    assert not unknown, f"add the demo object these path parameters name: {sorted(unknown)}"


def test_lists_as_other_show_no_solink_object(matrix: Matrix) -> None:
    """The account list, its total, and the counters of other@'s own account."""
    other = matrix.clients["other"]
    accounts = ok(other.get(f"{API}/ca", params={"take": 1000}))
    assert [a["uuid"] for a in accounts["results"]] == [str(ids.ENERGY_STORAGE)]
    assert accounts["total"] == 1
    base = f"{API}/ca/{ids.ENERGY_STORAGE}"
    admin_count = ok(matrix.admin.get(f"{base}/sites/count"))
    assert ok(other.get(f"{base}/sites/count")) == admin_count
    for kind in ("customers", "sites", "devices", "data-access-groups"):
        mine = ok(other.get(f"{base}/{kind}", params={"take": 1000}))
        assert mine["total"] == ok(matrix.admin.get(f"{base}/{kind}"))["total"], kind
    # a SoLink device in a filter is as unknown as a uuid that names nothing
    random = str(uuid.uuid4())
    answers = [
        other.post(f"{base}/variables", json={"deviceUuids": [device]})
        for device in (str(ids.MASTERYS_U2_CDS), random)
    ]
    assert [a.status_code for a in answers] == [400, 400]
    assert answers[0].json()["message"] == answers[1].json()["message"].replace(
        random, str(ids.MASTERYS_U2_CDS)
    )


def test_demo_sees_solink_and_nothing_else(matrix: Matrix) -> None:
    for caller in ("demo", "viewer"):
        accounts = ok(matrix.clients[caller].get(f"{API}/ca"))
        assert [a["uuid"] for a in accounts["results"]] == [str(ids.SOLINK)], caller


def test_malformed_json_is_refused_before_the_token_is_read(matrix: Matrix) -> None:
    """The one answer that comes before the rights: FastAPI decodes a JSON body before it
    solves the route's dependencies, so a body that is not JSON at all is a 400 even without
    a token. It tells nothing: the same answer for SoLink and for an account that does not
    exist, whoever asks."""
    answers = {
        (caller, ca): matrix.clients[caller].post(
            f"{API}/ca/{ca}/customers",
            content=b'{"name": ',
            headers={"content-type": "application/json"},
        )
        for caller in ("no-token", "other", "viewer")
        for ca in (ids.SOLINK, uuid.uuid4())
    }
    assert {(a.status_code, a.text) for a in answers.values()} == {
        (400, answers["no-token", ids.SOLINK].text)
    }
    # a well-formed body that is wrong comes after the rights
    wrong = matrix.clients["no-token"].post(f"{API}/ca/{ids.SOLINK}/customers", json={"name": 1})
    assert wrong.status_code == 401
