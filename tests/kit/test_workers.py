"""`sodata serve --workers N` (kit/workers.py): the connections are dealt to the processes in
turn, and a process that dies is replaced while the others go on answering."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sodata.kit.workers import dispatching
from tests.conftest import Server

SODATA = [sys.executable, "-m", "sodata"]

pytestmark = pytest.mark.skipif(
    not dispatching(), reason="connections are handed to the processes only where sockets pass"
)


def _ready(server: Server, count: int, timeout: float = 60) -> list[int]:
    """The pids of the workers the parent has said ready, once `count` of them are alive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = re.findall(r"worker (\d+) ready", server.log_path.read_text())
        alive = [int(pid) for pid in dict.fromkeys(said) if Path(f"/proc/{pid}").exists()]
        if len(alive) == count:
            return alive
        time.sleep(0.2)
    raise AssertionError(f"not {count} workers ready:\n{server.log_tail()}")


def _owners(port: int) -> list[int]:
    """The pids holding each established connection to `port` (one line per connection)."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
    ).stdout
    return [int(pid) for line in out.splitlines() for pid in re.findall(r"pid=(\d+)", line)]


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_connections_are_dealt_in_turn_and_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    server = Server("sqlite", tmp_path, args=["--workers", "2", "--log-level", "info"])
    try:
        workers = _ready(server, 2)
        # a burst of keep-alive connections, as a load generator or a proxy opens them
        clients = [http.client.HTTPConnection("127.0.0.1", server.port) for _ in range(40)]
        try:
            for client in clients:
                client.request("GET", "/realms/sodata")
            for client in clients:
                assert client.getresponse().read()
            deadline = time.monotonic() + 10
            # once the parent has let go of its copy of each: one worker per connection
            while len(owners := _owners(server.port)) != 40 or not set(owners) <= set(workers):
                assert time.monotonic() < deadline, owners
                time.sleep(0.1)
            assert sorted(owners.count(pid) for pid in workers) == [20, 20], owners
        finally:
            for client in clients:
                client.close()

        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        # Once the parent has seen it die (a connection handed over in the instant before
        # is lost with it, as with any process that dies), the other worker answers meanwhile.
        deadline = time.monotonic() + 10
        while f"worker {victim} exited" not in server.log_path.read_text():
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.05)
        for _ in range(20):
            assert httpx.get(server.url + "/realms/sodata", timeout=10).status_code == 200
        replaced = _ready(server, 2)
        assert victim not in replaced and workers[1] in replaced
        assert "starting another" in server.log_path.read_text()
        # and the new one takes its turn
        time.sleep(0.5)
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        try:
            deadline = time.monotonic() + 10
            while sorted(owners := _owners(server.port)) != sorted(replaced):
                assert time.monotonic() < deadline, (owners, replaced)
                time.sleep(0.1)
        finally:
            for client in clients:
                client.close()
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log_tail()


def test_a_port_taken_by_another_program_is_refused_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = [*SODATA, "serve", "--port", str(port), "--db", str(tmp_path / "x.db")]
        done = subprocess.run(
            [*serve, "--workers", "2"], capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
