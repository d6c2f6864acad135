"""`sodata serve --workers N` (kit/workers.py): every process takes its share of the
connections, and a process that dies is replaced while the others go on answering."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sodata.kit.workers import balanced
from tests.conftest import Server

SODATA = [sys.executable, "-m", "sodata"]

pytestmark = pytest.mark.skipif(
    not balanced(), reason="one socket per process (SO_REUSEPORT) balances only on Linux"
)


def _children(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in found.split()}


def _workers(server: Server, count: int, timeout: float = 60) -> set[int]:
    """The server's worker processes, once `count` of them answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # spawned workers: children of the parent other than multiprocessing's resource tracker
        found = {
            p
            for p in _children(server.process.pid)
            if "resource_tracker" not in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        }
        if len(found) == count and all(_listens(p, server.port) for p in found):
            return found
        time.sleep(0.2)
    raise AssertionError(f"not {count} workers listening:\n{server.log_tail()}")


def _listens(pid: int, port: int) -> bool:
    out = subprocess.run(
        ["ss", "-tlnpH", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    return f"pid={pid}," in out


def _owners(port: int) -> list[int]:
    """The pid of the server process holding each established connection to `port`."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
    ).stdout
    return [int(line.split("pid=")[1].split(",")[0]) for line in out.splitlines() if "pid=" in line]


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
def test_connections_spread_over_the_workers_and_a_dead_worker_is_replaced(
    tmp_path: Path,
) -> None:
    server = Server("sqlite", tmp_path, args=["--workers", "2"])
    try:
        workers = _workers(server, 2)
        # a burst of keep-alive connections, as a load generator opens them
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
        try:
            deadline = time.monotonic() + 10
            while len(owners := _owners(server.port)) < 40 and time.monotonic() < deadline:
                time.sleep(0.1)
            shares = {pid: owners.count(pid) for pid in workers}
            assert sum(shares.values()) == 40, (shares, owners)
            # the kernel hashes each connection to one socket: about 20 each, never all on one
            assert min(shares.values()) >= 8, shares
        finally:
            for client in clients:
                client.close()

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        # the other worker answers meanwhile
        for _ in range(20):
            assert httpx.get(server.url + "/realms/sodata", timeout=10).status_code == 200
        replaced = _workers(server, 2)
        assert victim not in replaced and len(replaced & workers) == 1
        assert httpx.get(server.url + "/realms/sodata", timeout=10).status_code == 200
        assert "starting another" in server.log_path.read_text()
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
