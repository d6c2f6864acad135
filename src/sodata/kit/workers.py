"""`sodata serve --workers N`: N server processes on one port, each with a listening socket of
its own (SO_REUSEPORT), so that the kernel spreads connections evenly over them.

With one shared socket (uvicorn's own workers), whichever process wakes first accepts every
connection waiting, and a burst of keep-alive connections can land 26 on one process and 7 on
the other: the busy one answers them several times slower. Where the kernel does not balance
SO_REUSEPORT sockets (outside Linux), uvicorn's shared socket is used.

The parent only supervises: a worker that dies is started again (unless it exited with an
error within STARTUP_SECONDS of its start: then it cannot serve, and the server stops); SIGINT
and SIGTERM stop every worker gracefully.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from typing import Any

log = logging.getLogger("sodata.workers")
STARTUP_SECONDS = 5.0
APP = "sodata.app:create_app"  # each process makes its own application from the environment


def balanced() -> bool:
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _listening(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = _listening(host, port)
    sock.listen(2048)
    config = uvicorn.Config(APP, factory=True, log_level=log_level)
    uvicorn.Server(config).run(sockets=[sock])


def serve(host: str, port: int, workers: int, log_level: str) -> None:
    if not balanced():
        import uvicorn

        uvicorn.run(APP, factory=True, workers=workers, host=host, port=port, log_level=log_level)
        return
    try:  # the port is free: else say so at once
        _listening(host, port).close()
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> tuple[Any, float]:
        process = context.Process(target=_worker, args=(host, port, log_level))
        process.start()
        return process, time.monotonic()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    running = [start() for _ in range(workers)]
    failed = False
    while not stop.wait(0.2):
        for i, (process, started) in enumerate(running):
            if process.exitcode is None:
                continue
            age = time.monotonic() - started
            if process.exitcode > 0 and age < STARTUP_SECONDS:  # not killed: it cannot start
                log.error("worker %s exited at start (code %s)", process.pid, process.exitcode)
                failed = True
                stop.set()
                break
            if age < 1:  # one start a second at most, whatever kills them
                continue
            log.warning(
                "worker %s exited (code %s); starting another", process.pid, process.exitcode
            )
            running[i] = start()
    for process, _ in running:
        if process.exitcode is None:
            process.terminate()  # SIGTERM: uvicorn finishes what it is answering
    for process, _ in running:
        process.join(30)
        if process.exitcode is None:
            process.kill()
            process.join()
    if failed:
        raise SystemExit(1)
