"""Shared by the datapoints and last-values API tests: an own corporate account (so that no demo
object changes and no other test sees the points), its devices, members and API clients, the
points to send and the calls."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any

import httpx

from sodata.demo.ids import MASTERYS_TYPE
from tests import factories
from tests.conftest import PasswordGrant, unique

API = "/api/v1"
# The spec's keys (5.8.3 and 7.1: the answer of PUT /datapoints; 5.9.3: a last value)
SPEC_ANSWER_KEYS = {"from", "to", "timezone", "useDeviceLocalTimezone", "granularity", "series"}
SPEC_SERIES_KEYS = {
    "itemType",
    "itemIndex",
    "serviceId",
    "deviceUuid",
    "dataType",
    "deviceTimeZone",
    "data",
}
SERIES_EXTRAS = {"variableUuid", "mappingConfig", "unit", "aggregation", "nextAfter"}
SPEC_LAST_VALUE_KEYS = {
    "serviceId",
    "itemType",
    "itemIndex",
    "deviceUuid",
    "value",
    "date",
    "title",
    "unit",
    "deviceName",
    "itemName",
    "serviceGroup",
    "serviceType",
}
ERROR_KEYS = {"statusCode", "message", "error"}
PASSWORD = "datapoints-password"
LOAD = "Global|0|140100"  # Ups output global load rate, PERCENT
CURRENT_L3 = "Global|0|140108"  # Ups output current L3, AMPERE


# --- times ------------------------------------------------------------------------------------


def ms(text: str) -> int:
    """Milliseconds since 1970 of an ISO 8601 time (UTC when it has no offset)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def iso(at: int) -> str:
    """The time `at` (ms) as sent by a client: UTC with milliseconds."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=at)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at % 1000:03d}Z"


def shown(at: int) -> str:
    """The time `at` (ms) as the server prints it: milliseconds only when not zero."""
    text = iso(at)
    return text.replace(".000Z", "Z")


def points(
    start: str | int, count: int, step_s: float = 60, values: Iterable[float] | None = None
) -> list[dict[str, Any]]:
    """`count` points every `step_s` seconds from `start`; values 0, 1, 2, ... unless given."""
    first = ms(start) if isinstance(start, str) else start
    values = list(range(count)) if values is None else list(values)
    return [{"at": iso(first + round(i * step_s * 1000)), "value": values[i]} for i in range(count)]


# --- answers ----------------------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:500]}"
    )
    return response.json()


def error(response: httpx.Response, status: int) -> str:
    """The message of an error answer, after checking its status and shape."""
    body = ok(response, status)
    assert set(body) == ERROR_KEYS and body["statusCode"] == status, body
    assert body["error"] == HTTPStatus(status).phrase, body
    assert isinstance(body["message"], str) and body["message"], body
    return body["message"]


def read_answer(conn: socket.socket) -> str:
    """An HTTP answer read from a socket: its head and its body (by content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        assert chunk, body
        body += chunk
    return (head + b"\r\n\r\n" + body).decode("latin-1")


def pairs(series: dict[str, Any]) -> list[tuple[int, float]]:
    """A series' data as (ms, value)."""
    return [(ms(p["at"]), p["value"]) for p in series["data"]]


# --- the own account --------------------------------------------------------------------------


@dataclass
class Account:
    """A corporate account of admin@ (`api`) with a customer and a site in Europe/Paris."""

    api: httpx.Client
    uuid: str
    customer: str
    site: str
    clients: list[httpx.Client] = field(default_factory=list)

    @staticmethod
    def create(api: httpx.Client, time_zone: str = "Europe/Paris") -> Account:
        ca = factories.corporate_account(api)["uuid"]
        customer = factories.customer(api, ca)["uuid"]
        site = factories.site(api, ca, customer, timeZone=time_zone)["uuid"]
        return Account(api, ca, customer, site)

    def close(self) -> None:
        for client in self.clients:
            client.close()

    @property
    def base(self) -> str:
        return f"{API}/ca/{self.uuid}"

    def new_site(self, time_zone: str) -> str:
        return factories.site(self.api, self.uuid, self.customer, timeZone=time_zone)["uuid"]

    def device(self, type_uid: object = MASTERYS_TYPE, site: str | None = None, **fields) -> str:
        """A new ACCEPTED device (a Masterys: Global|0|140100, 140108, ... ) of the site."""
        return factories.device(self.api, self.uuid, site or self.site, type_uid, **fields)["uuid"]

    def variables(self, device: str) -> dict[str, str]:
        """mappingConfig -> variable uuid of a device."""
        found = ok(self.api.get(f"{self.base}/devices/{device}/variables"))["results"]
        return {v["mappingConfig"]: v["uuid"] for v in found}

    # calls

    def send(
        self, device: str, series: list[dict[str, Any]], client: httpx.Client | None = None
    ) -> httpx.Response:
        url = f"{self.base}/devices/{device}/datapoints"
        return (client or self.api).post(url, json={"series": series})

    def sent(
        self, device: str, series: list[dict[str, Any]], client: httpx.Client | None = None
    ) -> dict[str, Any]:
        """Sends; checks the answer's shape; returns it."""
        answer = ok(self.send(device, series, client))
        assert set(answer) == {"accepted", "rejected", "errors"}, answer
        for rejection in answer["errors"]:
            assert set(rejection) == {"series", "point", "at", "reason"}, rejection
        return answer

    def query(
        self, series: Sequence[dict[str, Any]], client: httpx.Client | None = None, **fields
    ) -> httpx.Response:
        body = {
            "from": "2022-05-18T00:00:00Z",
            "to": "2022-05-19T00:00:00Z",
            "timezone": "UTC",
            "useDeviceLocalTimezone": False,
            "granularity": "raw",
            "series": list(series),
            **fields,
        }
        return (client or self.api).put(f"{self.base}/datapoints", json=body)

    def read(self, series: dict[str, Any], client: httpx.Client | None = None, **fields) -> dict:
        """The one series answered for `series` (asserts a 200)."""
        answer = ok(self.query([series], client, **fields))
        assert len(answer["series"]) == 1
        return answer["series"][0]

    def last_values(self, device: str, client: httpx.Client | None = None) -> list[dict]:
        answer = ok((client or self.api).get(f"{self.base}/devices/{device}/last-values"))
        assert [d["deviceUuid"] for d in answer["devices"]] == [device]
        return answer["devices"][0]["values"]

    # members

    def member(self, role: str) -> tuple[str, httpx.Client]:
        """A new user of the account with `role`: its uuid and a client signed in as it."""
        email = f"{unique('datapoints').replace(' ', '-')}@example.com"
        body = {"email": email, "role": role, "name": unique("Member"), "password": PASSWORD}
        user = factories.created(self.api.post(f"{self.base}/users", json=body))
        client = httpx.Client(
            base_url=str(self.api.base_url),
            timeout=30,
            auth=PasswordGrant(str(self.api.base_url).rstrip("/"), email, PASSWORD),
        )
        self.clients.append(client)
        return user["uuid"], client

    def api_client(self, role: str, gateway: str | None = None) -> httpx.Client:
        """A client signed in with a new API client of the account (client_credentials)."""
        body: dict[str, Any] = {"clientId": unique("dp").replace(" ", "-"), "role": role}
        if gateway is not None:
            body["gatewayUuid"] = gateway
        made = factories.created(self.api.post(f"{self.base}/clients", json=body))
        base_url = str(self.api.base_url).rstrip("/")
        token = httpx.post(
            f"{base_url}/realms/sodata/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": made["clientId"],
                "client_secret": made["clientSecret"],
            },
        )
        assert token.status_code == 200, token.text
        client = httpx.Client(
            base_url=base_url,
            timeout=30,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        self.clients.append(client)
        return client

    def access_group(self, customers: Sequence[str] = (), devices: Sequence[str] = ()) -> str:
        group = factories.access_group(self.api, self.uuid)["uuid"]
        for kind, members in (("customers", customers), ("devices", devices)):
            for member in members:
                ok(self.api.put(f"{self.base}/data-access-groups/{group}/{kind}/{member}"))
        return group

    def join(self, group: str, user: str) -> None:
        ok(self.api.put(f"{self.base}/data-access-groups/{group}/users/{user}"))


def same_404(got: httpx.Response, twin: httpx.Response, hidden: str, random: str) -> None:
    """`got` (naming `hidden`, which exists) says what `twin` (naming `random`, which names
    nothing) says: a 404 tells nothing."""
    message = error(got, 404)
    assert message == error(twin, 404).replace(random, hidden), (message, twin.text)


def random_uuid() -> str:
    return str(uuid.uuid4())
