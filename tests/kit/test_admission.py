"""The admission's body reading, through the real server: a client that leaves before its
request is read is no error of the server (no traceback in its log), on both backends.
The refusals of bodies too large or too slow are in tests/test_bad_input.py."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from tests.conftest import Server

ACCOUNT = "/api/v1/ca/3756c84b-8697-446f-9ca3-931b3681f908"
TARGETS = [
    "/realms/sodata/protocol/openid-connect/token",  # reads its form itself
    "/api/v1/ca",  # FastAPI reads the JSON body
    f"{ACCOUNT}/devices/3756c84b-8697-446f-9ca3-931b3681f908/datapoints",  # a RawBody
    f"{ACCOUNT}/batch-devices/3756c84b-8697-446f-9ca3-931b3681f908/variables",  # read by a dependency
]


def _leave(server: Server, token: str, path: str, declared: int, sent: bytes) -> None:
    """Sends a POST announcing `declared` bytes of body, sends `sent`, and leaves at once."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
            ).encode()
            + sent
        )
        conn.shutdown(socket.SHUT_WR)


@pytest.mark.parametrize(
    ("declared", "sent"),
    [(0, b""), (1000, b'{"name": "ab'), (10 * 2**20, b"x" * 200_000)],
    ids=["no body", "a part of its body", "a part of a large body"],
)
def test_a_client_that_leaves_is_no_error_of_the_server(
    server: Server, api: httpx.Client, declared: int, sent: bytes
) -> None:
    assert api.get("/api/v1/ca", params={"take": 1}).status_code == 200  # signed in
    token = api.auth.token  # type: ignore[union-attr]
    start = len(server.log_path.read_text())
    for _ in range(3):
        for path in TARGETS:
            _leave(server, token, path, declared, sent)
    time.sleep(1.0)  # the server notices the last one
    assert api.get("/api/v1/ca", params={"take": 1}).status_code == 200
    log = server.log_path.read_text()[start:]
    for sign in ("Traceback", "unexpected error", "Exception in ASGI application"):
        assert sign not in log, log
