"""Bad input, whole-system: a catalogue of inputs that no single endpoint's tests cover, sent
to the real server on both backends.

Each refused input answers a 4xx in the error shape {"statusCode", "message", "error"} whose
message names the field first, and leaves the database as it was (the test reads the
catalogue's own account, its objects, logs and points, and the number of accounts, before and
after). Inputs that are valid, however odd (emoji and right-to-left marks in filters, years
0001 and 9999 in a query), are answered normally; points that cannot be stored are rejected
one by one, as ingestion does. A body sent too slowly is dropped after SODATA_BODY_SECONDS.
"""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from sodata.demo.ids import ADMIN_EMAIL
from tests.conftest import BACKENDS, Server, client_as, unique
from tests.datapoints.wire import LOAD, Account, ok, read_answer

SHAPE = {"statusCode", "message", "error"}
MIB = 2**20
SURROGATE = "\\ud800"  # as JSON writes it: a lone surrogate, no character of Unicode
# names no IANA zone; a folder, a file of the tz database that is no zone, paths out of it
NOT_ZONES = ["../../etc/passwd", "/etc/passwd", "Europe/../../etc", "Europe", "zone.tab", ""]


@dataclass
class World:
    """The catalogue's own corporate account (customer, site in Europe/Paris, a device)."""

    account: Account
    device: str
    variable: str

    @property
    def api(self) -> httpx.Client:
        return self.account.api

    @property
    def base(self) -> str:
        return self.account.base

    @property
    def ingestion(self) -> str:
        return f"{self.base}/devices/{self.device}/datapoints"

    @property
    def token(self) -> str:
        assert self.api.get("/api/v1/ca", params={"take": 0}).status_code == 200
        return self.api.auth.token  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def world(api: httpx.Client) -> Iterator[World]:
    account = Account.create(api)
    device = account.device()
    yield World(account, device, account.variables(device)[LOAD])
    account.close()


def state(w: World) -> dict[str, Any]:
    """What a refused request must leave as it was."""

    def get(url: str, **params: Any) -> Any:
        return ok(w.api.get(url, params=params))

    series = {"deviceUuid": w.device, "mappingConfig": LOAD, "aggregation": "count"}
    window = {"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "granularity": "year"}
    return {
        "accounts": get("/api/v1/ca", take=0)["total"],
        "account": get(w.base),
        "customers": get(f"{w.base}/customers", detailsLevel="ALL"),
        "sites": get(f"{w.base}/sites", detailsLevel="ALL"),
        "devices": get(f"{w.base}/devices"),
        "variables": get(f"{w.base}/devices/{w.device}/variables"),
        "logs": get(f"{w.base}/logs", take=0)["total"],
        "points": w.account.read(series, **window)["data"],
    }


# --- how the cases send ---------------------------------------------------------------------

Answer = tuple[int, Any]


def answered(r: httpx.Response) -> Answer:
    return r.status_code, r.json()


def raw_json(w: World, method: str, url: str, text: str | bytes) -> Answer:
    """JSON text sent as is: NaN, lone surrogates, bytes that are not UTF-8."""
    content = text.encode() if isinstance(text, str) else text
    headers = {"content-type": "application/json"}
    return answered(w.api.request(method, url, content=content, headers=headers))


def announced(w: World, method: str, url: str, length: int) -> Answer:
    """Headers announcing a body of `length` bytes, and no body: refused before it comes."""
    with socket.create_connection(("127.0.0.1", w.api.base_url.port), timeout=30) as conn:
        conn.sendall(
            (
                f"{method} {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {w.token}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
            ).encode()
        )
        head, _, body = read_answer(conn).partition("\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def streamed(w: World, method: str, url: str, size: int) -> Answer:
    """A body of `size` bytes streamed without a length (chunked), never held whole here."""

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "' + unique("Streamed").encode() + b'", "series": "'
        for _ in range(size // MIB):
            yield b"x" * MIB
        yield b'"}'

    headers = {"content-type": "application/json"}
    return answered(w.api.request(method, url, content=chunks(), headers=headers))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def query(w: World, **fields: Any) -> Answer:
    series = fields.pop("series", [{"deviceUuid": w.device, "mappingConfig": LOAD}])
    return answered(w.account.query(series, **fields))


def query_text(w: World, text: str) -> Answer:
    """A datapoints query whose body is `text` with DEVICE for the device's uuid."""
    return raw_json(w, "PUT", f"{w.base}/datapoints", text.replace("DEVICE", w.device))


def ingest_value(w: World, value: str) -> Answer:
    """An ingestion call of one point whose value is the JSON text `value`."""
    text = f'{{"series": [{{"mappingConfig": "{LOAD}", "data": [{{"at": "2022-05-18T00:00:00Z", "value": {value}}}]}}]}}'
    return raw_json(w, "POST", w.ingestion, text)


def filtered(w: World, path: str, name: str, raw_value: str) -> Answer:
    """A list filtered by `name`, its value written in the query string as is (%-escaped)."""
    return answered(w.api.get(f"{w.base}/{path}?{name}={raw_value}"))


QUERY = '{"from": "2022-05-18T00:00:00Z", "to": "2022-05-19T00:00:00Z", "granularity": "raw", '


# --- the catalogue of refusals --------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    send: Callable[[World], Answer]
    status: int
    words: tuple[str, ...]  # the message starts with the first and holds every one


def case(id: str, send: Callable[[World], Answer], status: int, *words: str) -> Case:
    return Case(id, send, status, words)


REFUSED = [
    # bodies past every documented limit: 4 MiB, and 32 MiB for ingestion
    case(
        "body over 4 MiB announced",
        lambda w: announced(w, "POST", "/api/v1/ca", 4 * MIB + 1),
        413,
        "body:",
        "4 MiB",
    ),
    case(
        "body over 4 MiB streamed",
        lambda w: streamed(w, "POST", "/api/v1/ca", 5 * MIB),
        413,
        "body:",
        "4 MiB",
    ),
    case(
        "query body over 4 MiB announced",
        lambda w: announced(w, "PUT", f"{w.base}/datapoints", 4 * MIB + 1),
        413,
        "body:",
        "4 MiB",
    ),
    case(
        "ingestion body over 32 MiB announced",
        lambda w: announced(w, "POST", w.ingestion, 32 * MIB + 1),
        413,
        "body:",
        "32 MiB",
    ),
    case(
        "ingestion body over 32 MiB streamed",
        lambda w: streamed(w, "POST", w.ingestion, 33 * MIB),
        413,
        "body:",
        "32 MiB",
    ),
    case(
        "10,000 series in one query",
        lambda w: query(w, series=[{"deviceUuid": w.device, "mappingConfig": LOAD}] * 10_000),
        400,
        "series:",
        "100",
    ),
    case(
        "10,000 series in one ingestion call",
        lambda w: answered(
            w.api.post(w.ingestion, json={"series": [{"mappingConfig": LOAD, "data": []}] * 10_000})
        ),
        400,
        "series:",
        "100",
    ),
    case(
        "10,000 devices in one last-values query",
        lambda w: answered(
            w.api.put(f"{w.base}/last-values", json={"deviceUuids": [w.device] * 10_000})
        ),
        400,
        "deviceUuids:",
        "1000",
    ),
    # JSON nested past any decoder's depth, or not UTF-8
    case(
        "ingestion nested 100,000 deep",
        lambda w: raw_json(w, "POST", w.ingestion, nested(100_000)),
        400,
        "body: not valid JSON",
        "depth",
    ),
    case(
        "account nested 100,000 deep",
        lambda w: raw_json(w, "POST", "/api/v1/ca", f'{{"name": {nested(100_000)}}}'),
        400,
        "body: not valid JSON",
        "nested too deeply",
    ),
    case(
        "query nested 5,000 deep",
        lambda w: query_text(w, QUERY + f'"series": {nested(5_000)}}}'),
        400,
        "body: not valid JSON",
        "nested too deeply",
    ),
    case(
        "account body not UTF-8",
        lambda w: raw_json(w, "POST", "/api/v1/ca", b'{"name": "caf\xe9"}'),
        400,
        "body: not valid JSON",
        "UTF-8",
    ),
    # Unicode: lone surrogates and NUL in bodies, filters past their length in characters
    case(
        "lone surrogate in a name",
        lambda w: raw_json(w, "POST", f"{w.base}/customers", f'{{"name": "a{SURROGATE}"}}'),
        400,
        "name:",
    ),
    case(
        "lone surrogate in an ingestion time",
        lambda w: raw_json(
            w,
            "POST",
            w.ingestion,
            f'{{"series": [{{"mappingConfig": "{LOAD}", "data": [{{"at": "{SURROGATE}", "value": 1}}]}}]}}',
        ),
        400,
        "body: not valid JSON",
        "surrogate",
    ),
    case(
        "lone surrogate in an ingestion mappingConfig",
        lambda w: raw_json(
            w,
            "POST",
            w.ingestion,
            f'{{"series": [{{"mappingConfig": "G{SURROGATE}", "data": [{{"at": "2022-05-18T00:00:00Z", "value": 1e999}}]}}]}}',
        ),
        400,
        "body: not valid JSON",
        "surrogate",
    ),
    case(
        "lone surrogate in a query timezone",
        lambda w: query_text(
            w, QUERY + f'"timezone": "{SURROGATE}", "series": [{{"deviceUuid": "DEVICE"}}]}}'
        ),
        400,
        "timezone:",
    ),
    case(
        "lone surrogate in a variables filter",
        lambda w: raw_json(
            w, "POST", f"{w.base}/variables", f'{{"mappingConfigs": ["G|0|{SURROGATE}"]}}'
        ),
        400,
        "mappingConfigs[0]:",
    ),
    case(
        "NUL in a query timezone",
        lambda w: query(w, timezone="UTC\u0000"),
        400,
        "timezone:",
        "NUL",
    ),
    case(
        "NUL in a query start",
        lambda w: query(w, **{"from": "2022-05-18T00:00:00Z\u0000"}),
        400,
        "from:",
        "NUL",
    ),
    case(
        "NUL in filter name=",
        lambda w: filtered(w, "customers", "name", "%00"),
        400,
        "query:",
        "NUL",
    ),
    case(
        "NUL in filter serialNumber=",
        lambda w: filtered(w, "devices", "serialNumber", "a%00"),
        400,
        "query:",
        "NUL",
    ),
    case(
        "NUL in filter search=",
        lambda w: filtered(w, "logs", "search", "%00b"),
        400,
        "query:",
        "NUL",
    ),
    case(
        "256 emoji in filter name=",
        lambda w: filtered(w, "customers", "name", quote("\U0001f642" * 256)),
        400,
        "name:",
        "255",
    ),
    case(
        "256 right-to-left marks in filter serialNumber=",
        lambda w: filtered(w, "devices", "serialNumber", quote("\u200f" * 256)),
        400,
        "serialNumber:",
        "255",
    ),
    case(
        "256 emoji in filter search=",
        lambda w: filtered(w, "logs", "search", quote("\U0001f642" * 256)),
        400,
        "search:",
        "255",
    ),
    case(
        "256 emoji in a name",
        lambda w: answered(w.api.post(f"{w.base}/customers", json={"name": "\U0001f642" * 256})),
        400,
        "name:",
        "255",
    ),
    # time zone names that are paths, folders or files of the tz database
    *[
        case(
            f"query timezone {name!r}",
            lambda w, name=name: query(w, timezone=name),
            400,
            "timezone:",
            "IANA",
        )
        for name in NOT_ZONES
    ],
    *[
        case(
            f"site timeZone {name!r}",
            lambda w, name=name: answered(
                w.api.put(f"{w.base}/sites/{w.account.site}", json={"timeZone": name})
            ),
            400,
            "timeZone:",
            "IANA",
        )
        for name in NOT_ZONES
    ],
    case(
        "device timeZone 'Europe'",
        lambda w: answered(w.api.put(f"{w.base}/devices/{w.device}", json={"timeZone": "Europe"})),
        400,
        "timeZone:",
        "IANA",
    ),
    # dates outside years 0001 to 9999, or in the wrong order
    case(
        "query from year 0",
        lambda w: query(w, **{"from": "0000-12-31T00:00:00Z"}),
        400,
        "from:",
        "ISO 8601",
    ),
    case(
        "query to year 10000",
        lambda w: query(w, to="10000-01-01T00:00:00Z"),
        400,
        "to:",
        "ISO 8601",
    ),
    case(
        "query from 9999 to 0001",
        lambda w: query(w, **{"from": "9999-12-31T23:59:59.999Z", "to": "0001-01-01T00:00:00Z"}),
        400,
        "from:",
        "before to",
    ),
    # NaN and Infinity: no JSON numbers
    *[
        case(
            f"bare {token} in an ingestion value",
            lambda w, token=token: ingest_value(w, token),
            400,
            "body: not valid JSON",
        )
        for token in ("NaN", "Infinity", "-Infinity")
    ],
    case(
        "bare NaN as a query take",
        lambda w: query_text(w, QUERY + '"take": NaN, "series": [{"deviceUuid": "DEVICE"}]}'),
        400,
        "take:",
        "finite",
    ),
    case(
        "bare NaN as a name",
        lambda w: raw_json(w, "POST", "/api/v1/ca", '{"name": NaN}'),
        400,
        "name:",
    ),
    case(
        "bare NaN as a longitude",
        lambda w: raw_json(w, "PUT", f"{w.base}/devices/{w.device}", '{"longitude": NaN}'),
        400,
        "longitude:",
        "finite",
    ),
    case(
        "bare Infinity as a variable coef",
        lambda w: raw_json(
            w, "PUT", f"{w.base}/devices/{w.device}/variables/{w.variable}", '{"coef": Infinity}'
        ),
        400,
        "coef:",
        "finite",
    ),
    case(
        "bare NaN in a variables batch",
        lambda w: raw_json(
            w,
            "PUT",
            f"{w.base}/batch-devices/{w.device}/variables",
            f'[{{"uuid": "{w.variable}", "coef": NaN}}]',
        ),
        400,
        "[0].coef:",
        "finite",
    ),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_refused_in_the_error_shape_and_nothing_changes(world: World, case: Case) -> None:
    before = state(world)
    status, body = case.send(world)
    assert status == case.status, body
    assert isinstance(body, dict) and set(body) == SHAPE, body
    assert body["statusCode"] == status and body["error"] == HTTPStatus(status).phrase, body
    message = body["message"]
    assert message.startswith(case.words[0]), message
    assert all(word in message for word in case.words), (message, case.words)
    assert state(world) == before


# --- valid, however odd: answered -----------------------------------------------------------

ODD_TEXTS = {
    "emoji": "\U0001f642\U0001f3f3\ufe0f\u200d\U0001f308",
    "right-to-left override": "\u202eevil",
    "right-to-left mark and Hebrew": "\u200f\u05d0\u05d1",
    "combining accent": "e\u0301te",
    "replacement character": "\ufffd",
}


@pytest.mark.parametrize("text", ODD_TEXTS.values(), ids=ODD_TEXTS.keys())
def test_odd_unicode_in_filters_finds_what_holds_it(world: World, text: str) -> None:
    name = f"{unique('Odd')} {text}"
    customer = ok(world.api.post(f"{world.base}/customers", json={"name": name}), 201)["uuid"]
    serial = f"SN{text}{customer[:8]}"
    device = world.account.device(name=name, serialNumber=serial)
    for path, params, made in (
        ("customers", {"name": text}, customer),
        ("devices", {"name": text}, device),
        ("devices", {"serialNumber": serial}, device),
        ("logs", {"search": name}, None),
    ):
        found = ok(world.api.get(f"{world.base}/{path}", params=params))["results"]
        names = [r["objectName" if path == "logs" else "name"] for r in found]
        assert found and all(text in n for n in names), (path, params, names)
        assert made is None or made in [r["uuid"] for r in found], (path, params)


@pytest.mark.parametrize("raw_value", ["%ED%A0%80", "%FF", "%C0%80", "%F4%90%80%80"])
def test_filters_that_are_not_utf8_are_answered(world: World, raw_value: str) -> None:
    """Bytes that are no UTF-8 (a surrogate, a lone byte, an overlong NUL, past U+10FFFF)
    are read as U+FFFD: the filter finds what holds U+FFFD, the server does not fail."""
    for path, name in (("customers", "name"), ("devices", "serialNumber"), ("logs", "search")):
        status, body = filtered(world, path, name, raw_value)
        assert status == 200, (path, name, body)
        assert all("\ufffd" in json.dumps(r, ensure_ascii=False) for r in body["results"])


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"),
        ("0001-01-01T00:00:00", "0001-01-02T00:00:00"),
        ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59.999Z"),
        ("0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"),
    ],
)
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "America/Los_Angeles", "device"])
def test_years_0001_and_9999_in_a_query_are_answered(
    world: World, start: str, end: str, tz: str
) -> None:
    zone = {"useDeviceLocalTimezone": True} if tz == "device" else {"timezone": tz}
    for granularity in ("raw", "year", "day", "hour"):
        aggregation = {} if granularity == "raw" else {"aggregation": "avg"}
        series = [{"deviceUuid": world.device, "mappingConfig": LOAD, **aggregation}]
        status, body = query(
            world, series=series, granularity=granularity, **{"from": start, "to": end}, **zone
        )
        assert status == 200, (granularity, body)
        assert body["series"][0]["data"] == [] and body["series"][0]["nextAfter"] is None


@pytest.mark.parametrize(
    ("at", "reason"),
    [
        ("0001-01-01T00:00:00Z", "before 1970"),
        ("0001-01-01T00:00:00+05:00", "before 1970"),
        ("0001-01-01T00:00:00.000Z", "before 1970"),
        ("9999-12-31T23:59:59Z", "hour ahead"),
        ("9999-12-31T23:59:59.999Z", "hour ahead"),
        ("9999-12-31T23:00:00-05:00", "hour ahead"),  # past year 9999 in UTC
    ],
)
def test_times_out_of_range_are_rejected_points(world: World, at: str, reason: str) -> None:
    before = state(world)
    series = [{"mappingConfig": LOAD, "data": [{"at": at, "value": 1}]}]
    answer = world.account.sent(world.device, series)
    assert (answer["accepted"], answer["rejected"]) == (0, 1), answer
    assert answer["errors"][0]["reason"].startswith("at:"), answer
    assert reason in answer["errors"][0]["reason"], answer
    assert state(world) == before


@pytest.mark.parametrize("value", ['"NaN"', '"Infinity"', "1e999", "-1e999"])
def test_non_finite_values_are_rejected_points(world: World, value: str) -> None:
    before = state(world)
    status, answer = ingest_value(world, value)
    assert status == 200 and (answer["accepted"], answer["rejected"]) == (0, 1), answer
    assert answer["errors"][0]["reason"].startswith("value:"), answer
    assert state(world) == before


# --- slow loris -----------------------------------------------------------------------------

BODY_SECONDS = 2.0


@pytest.fixture(scope="module", params=BACKENDS)
def slow_limit_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server of its own that waits BODY_SECONDS for a body."""
    env = {"SODATA_BODY_SECONDS": str(BODY_SECONDS)}
    server = Server(request.param, tmp_path_factory.mktemp(f"slow-{request.param}"), env=env)
    yield server
    server.stop()
    errors = server.unexpected_errors()
    assert errors is None, f"the {server.backend} server logged an unexpected error:\n{errors}"


def test_a_body_sent_too_slowly_is_dropped(slow_limit_server: Server) -> None:
    """A client that trickles its body (a byte every 0.2 s, never all of it) is answered 408
    after BODY_SECONDS and its connection closed; nothing was created."""
    name = unique("Slow loris")
    body = json.dumps({"name": name}).encode()
    with client_as(slow_limit_server, ADMIN_EMAIL) as api:
        assert api.get("/api/v1/ca", params={"take": 0}).status_code == 200
        token = api.auth.token  # type: ignore[union-attr]
        with socket.create_connection(("127.0.0.1", slow_limit_server.port)) as conn:
            conn.settimeout(0.2)
            conn.sendall(
                (
                    f"POST /api/v1/ca HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    f"{token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body) + 10_000}\r\n\r\n"
                ).encode()
            )
            start = time.monotonic()
            deadline = start + BODY_SECONDS + 10
            answer = b""
            for byte in itertools.cycle(body):  # never the whole body: 50 bytes in 10 s
                assert time.monotonic() < deadline, "the body was never dropped"
                conn.sendall(bytes([byte]))
                try:
                    answer = conn.recv(65536)
                except TimeoutError:
                    continue
                break
            took = time.monotonic() - start
            while True:  # the rest of the answer, then the end of the connection
                assert time.monotonic() < deadline, f"the connection was not closed: {answer!r}"
                try:
                    more = conn.recv(65536)
                except TimeoutError:
                    continue
                if not more:
                    break
                answer += more
        head, _, text = answer.decode().partition("\r\n\r\n")
        assert head.startswith("HTTP/1.1 408"), answer
        error = json.loads(text)
        assert set(error) == SHAPE and error["statusCode"] == 408, error
        assert error["message"].startswith("body: not received within 2 s"), error
        assert BODY_SECONDS - 0.5 < took < BODY_SECONDS + 5, took
        assert ok(api.get("/api/v1/ca", params={"name": name}))["total"] == 0
