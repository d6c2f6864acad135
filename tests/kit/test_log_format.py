"""The server's logs (kit/log_format.py): with SODATA_LOG_FORMAT=json every line of the server
is a JSON object (uvicorn's, sodata's and the access lines, with one process and with
`--workers 2`); in text, uvicorn's lines as before. Neither holds a secret: a password, a
client secret, an authorization code or a token sent in a query string is replaced by ***."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sodata.demo import ids
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.kit.log_format import JsonFormatter, redacted
from sodata.kit.workers import dispatching
from tests.conftest import Server

TOKEN = "/realms/sodata/protocol/openid-connect/token"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CLIENT = re.compile(r"127\.0\.0\.1:\d+")


class Sent:
    """What a test server was sent: the secrets its log must not hold."""

    def __init__(self, server: Server, workers: int = 1) -> None:
        self.server = server
        self.workers = workers
        self.code = f"code-{uuid.uuid4().hex}"  # an authorization code, in a query string
        form = {
            "grant_type": "password",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": ids.DEMO_EMAIL,
            "password": DEMO_PASSWORD,
        }
        with httpx.Client(base_url=server.url, timeout=10) as http:
            signed_in = http.post(TOKEN, data=form)
            assert signed_in.status_code == 200, signed_in.text
            self.access_token = signed_in.json()["access_token"]
            self.refresh_token = signed_in.json()["refresh_token"]
            # secrets where they do not belong: in the query string
            misplaced = {**form, "refresh_token": self.refresh_token, "take": "5"}
            assert http.get(TOKEN, params=misplaced).status_code == 405
            callback = http.get("/console/callback", params={"code": self.code, "state": "s"})
            assert callback.status_code == 200
            bearer = {"Authorization": f"Bearer {self.access_token}"}
            assert http.get("/api/v1/ca", params={"take": 1}, headers=bearer).status_code == 200
            assert http.get("/no/such/path").status_code == 404
        self.secrets = [
            DEMO_CLIENT_SECRET,
            DEMO_PASSWORD,
            self.code,
            self.access_token,
            self.refresh_token,
        ]

    def log(self, until: str, times: int = 1) -> list[str]:
        """The server's log lines once `times` of them hold `until` (an access line is written
        once its answer has left; a worker may say it is ready after the other has answered)."""
        deadline = time.monotonic() + 10
        while (text := self.server.log_path.read_text()).count(until) < times:
            assert time.monotonic() < deadline, f"no {until!r} in the log:\n{text}"
            time.sleep(0.1)
        return text.splitlines()


def _server(tmp_path: Path, log_format: str, workers: int) -> Server:
    return Server(
        "sqlite",
        tmp_path,
        env={"SODATA_LOG_FORMAT": log_format},
        args=["--log-level", "info", "--workers", str(workers)],
    )


@pytest.fixture(
    scope="module",
    params=[
        1,
        pytest.param(
            2, marks=pytest.mark.skipif(not dispatching(), reason="no --workers dispatch here")
        ),
    ],
    ids=["1 process", "2 workers"],
)
def sent_json(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sent]:
    server = _server(tmp_path_factory.mktemp("json-logs"), "json", request.param)
    try:
        yield Sent(server, request.param)
    finally:
        server.stop()


def _json_lines(lines: list[str]) -> list[dict]:
    """Every line after `sodata serve`'s start banner (printed before logging starts), each
    parsed: a line that is not JSON fails."""
    first = next(i for i, line in enumerate(lines) if line.startswith("{"))
    return [json.loads(line) for line in lines[first:]]


def test_every_line_is_a_json_object(sent_json: Sent) -> None:
    records = _json_lines(sent_json.log(until='"/no/such/path"'))
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert ISO_UTC.fullmatch(record["time"]), record
        assert record["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), record
    loggers = {record["logger"] for record in records}
    assert {"uvicorn.error", "sodata.access"} <= loggers, loggers
    messages = [record["message"] for record in records]
    assert any(m.startswith("Started server process") for m in messages), messages
    if sent_json.workers > 1:  # the parent's lines too
        records = _json_lines(sent_json.log(until=' ready"', times=sent_json.workers))
        ready = [r["message"] for r in records if r["logger"] == "sodata.workers"]
        assert len(ready) == sent_json.workers and all("ready" in m for m in ready), ready


def test_access_lines_carry_the_request(sent_json: Sent) -> None:
    records = _json_lines(sent_json.log(until='"/no/such/path"'))
    access = [r for r in records if r["logger"] == "sodata.access"]
    for record in access:
        assert {"method", "path", "status", "duration_ms", "client"} <= set(record), record
        assert isinstance(record["status"], int) and isinstance(record["duration_ms"], float)
        assert 0 <= record["duration_ms"] < 60_000 and CLIENT.fullmatch(record["client"])
    by_path = {(r["method"], r["path"].split("?")[0]): r for r in access}
    assert by_path[("POST", TOKEN)]["status"] == 200
    assert by_path[("POST", TOKEN)]["path"] == TOKEN
    assert by_path[("GET", "/no/such/path")]["status"] == 404
    assert by_path[("GET", "/api/v1/ca")]["path"] == "/api/v1/ca?take=1"
    misplaced = by_path[("GET", TOKEN)]
    assert misplaced["status"] == 405
    query = dict(part.split("=", 1) for part in misplaced["path"].split("?", 1)[1].split("&"))
    for name in ("client_secret", "password", "refresh_token"):
        assert query[name] == "***", misplaced
    assert query["take"] == "5" and query["client_id"] == DEMO_CLIENT_ID, misplaced
    assert by_path[("GET", "/console/callback")]["path"] == "/console/callback?code=***&state=s"
    assert misplaced["message"] == (
        f'{misplaced["client"]} - "GET {misplaced["path"]} HTTP/1.1" 405'
    )


def test_no_secret_is_logged(sent_json: Sent) -> None:
    lines = sent_json.log(until='"/no/such/path"')
    logged = "\n".join(json.dumps(record) for record in _json_lines(lines))
    for secret in sent_json.secrets:
        assert secret not in logged, secret


def test_text_lines_are_uvicorns_without_secrets(tmp_path: Path) -> None:
    server = _server(tmp_path, "text", 1)
    try:
        sent = Sent(server)
        lines = sent.log(until='"GET /no/such/path HTTP/1.1" 404')
    finally:
        server.stop()
    assert not any(line.startswith("{") for line in lines)
    assert "INFO:     Application startup complete." in lines
    access = [line for line in lines if line.startswith("INFO:     127.0.0.1:")]
    assert any(
        re.fullmatch(
            r'INFO: {5}127\.0\.0\.1:\d+ - "POST /realms/sodata/protocol/openid-connect'
            r'/token HTTP/1\.1" 200 OK',
            line,
        )
        for line in access
    ), access
    assert any(
        '"GET /console/callback?code=***&state=s HTTP/1.1" 200 OK' in line for line in access
    )
    first = next(i for i, line in enumerate(lines) if line.startswith("INFO:"))
    text = "\n".join(lines[first:])  # after the start banner (the demo's credentials)
    for secret in sent.secrets:
        assert secret not in text, secret


def test_an_exception_is_a_string_field() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        record = logging.LogRecord(
            "sodata.test", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed here" and parsed["level"] == "ERROR"
    assert (
        parsed["exception"].startswith("Traceback") and "ValueError: broken" in parsed["exception"]
    )


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("take=5&skip=0", "take=5&skip=0"),
        ("password=p&client_secret=s", "password=***&client_secret=***"),
        ("code=c&code_verifier=v&state=s", "code=***&code_verifier=***&state=s"),
        (
            "id_token_hint=t&refresh_token=r&access_token=a",
            "id_token_hint=***&refresh_token=***&access_token=***",
        ),
        ("Client%5Fsecret=s&token", "Client%5Fsecret=***&token"),
    ],
)
def test_query_secrets_are_redacted(query: str, logged: str) -> None:
    assert redacted(query) == logged
