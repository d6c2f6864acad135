"""`sodata serve --workers N`: N server processes behind one port, the connections dealt to
them in turn.

The parent listens and accepts; it hands each connection to the next ready worker, round
robin, over a Unix socket (SCM_RIGHTS), as Node.js' cluster module does. A load generator or a
proxy keeps a few dozen keep-alive connections open: where each process accepts for itself,
their share is luck. With one shared socket, whichever process wakes first accepts every
connection waiting (26 on one process and 7 on the other, seen here); with one socket per
process (SO_REUSEPORT) the kernel hashes each connection to one of them (18 and 14 of 32 is
common), and the busier process answers its callers a third slower. Dealt in turn, 32
connections are 16 and 16. The workers listen on nothing: they serve the connections they are
handed. Where a socket cannot pass connections (Windows), uvicorn's own workers are used.

The parent also supervises: a worker that dies is started again (unless it exited with an
error within STARTUP_SECONDS of its start: then it cannot serve, and the server stops), and
gets no connection until it says it is ready; SIGINT and SIGTERM stop every worker gracefully.
The workers record their metrics into the parent's directory (kit/metrics.py), whose files of
earlier runs the parent removes first; the gauges of a worker that exits are dropped.

`run` serves one process (`sodata serve` without --workers) with the same logs and metrics.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import logging.config
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from sodata.kit import log_format, metrics
from sodata.startup import startup

log = logging.getLogger("sodata.workers")
STARTUP_SECONDS = 5.0
HAND_SECONDS = 5.0  # how long a connection waits for a worker ready to take it
APP = "sodata.app:create_app"  # each process makes its own application from the environment
READY = b"ready"


def dispatching() -> bool:
    """Whether this platform can hand accepted connections to other processes."""
    return sys.platform != "win32" and hasattr(socket, "send_fds")


def _worker(channel: socket.socket, log_level: str) -> None:
    import uvicorn

    class Handed(uvicorn.Server):
        """A uvicorn server listening on nothing: it serves the connections the parent hands
        it on `channel`."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=[])
            loop = asyncio.get_running_loop()
            # uvicorn's HTTP protocols take these: its annotation is only `type[asyncio.Protocol]`
            protocol_class: Callable[..., asyncio.Protocol] = self.config.http_protocol_class
            protocol = functools.partial(
                protocol_class,
                config=self.config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
            )
            tasks: set[asyncio.Task] = set()

            async def connect(sock: socket.socket) -> None:
                try:
                    await loop.connect_accepted_socket(protocol, sock)
                except OSError:  # the client went away meanwhile
                    sock.close()

            def take() -> None:
                while True:
                    try:
                        data, fds, _, _ = socket.recv_fds(channel, 1, 64)
                    except BlockingIOError:
                        return
                    if not data:  # the parent is gone: no more connections will come
                        loop.remove_reader(channel.fileno())
                        self.should_exit = True
                        return
                    for fd in fds:
                        task = loop.create_task(connect(socket.socket(fileno=fd)))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)

            channel.setblocking(False)
            loop.add_reader(channel.fileno(), take)
            channel.send(READY)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            asyncio.get_running_loop().remove_reader(channel.fileno())
            channel.close()  # connections not yet taken are closed with it
            await super().shutdown(sockets=[])

    with startup():  # what uvicorn's factory imports
        importlib.import_module(APP.partition(":")[0])
    config = log_format.uvicorn_config(log_level)
    Handed(uvicorn.Config(APP, factory=True, log_level=log_level, log_config=config)).run()


class _Worker:
    def __init__(self, context: Any, log_level: str) -> None:
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = context.Process(target=_worker, args=(theirs, log_level))
        self.process.start()
        theirs.close()
        self.channel.setblocking(False)
        self.started = time.monotonic()
        self.ready = False

    def poll(self) -> None:
        """Reads whether the worker says it is ready (or has gone)."""
        try:
            said = self.channel.recv(len(READY))
        except BlockingIOError:
            return
        except OSError:
            said = b""
        if said == READY:
            log.info("worker %s ready", self.process.pid)
        self.ready = said == READY

    def hand(self, connection: socket.socket) -> bool:
        """Passes `connection` to the worker; False if it cannot take it now (not ready, its
        queue full, gone)."""
        if not self.ready:
            return False
        try:
            socket.send_fds(self.channel, [b"c"], [connection.fileno()])
        except OSError:
            return False
        return True

    def close(self) -> None:
        self.ready = False
        self.channel.close()


def _deal(
    listener: socket.socket, workers: list[_Worker], lock: threading.Lock, stop: threading.Event
) -> None:
    """Accepts connections and hands each to the next worker that takes it (`lock`: held while
    handing, so that no worker is replaced meanwhile)."""
    listener.settimeout(0.5)
    turn = 0
    while not stop.is_set():
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError as exc:  # out of file descriptors, say: the kernel keeps the rest waiting
            log.warning("cannot accept a connection: %s", exc)
            time.sleep(0.1)
            continue
        with connection:  # our copy: the worker holds its own
            if connection.family != socket.AF_UNIX:  # answers leave at once (as uvicorn's do)
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            deadline = time.monotonic() + HAND_SECONDS
            while not stop.is_set():
                count = len(workers)
                with lock:
                    taker = next(
                        (k for k in range(count) if workers[(turn + k) % count].hand(connection)),
                        None,
                    )
                if taker is not None:
                    turn = (turn + taker + 1) % count
                    break
                if time.monotonic() > deadline:
                    log.warning("no worker took a connection in %.0f s: closed", HAND_SECONDS)
                    break
                time.sleep(0.01)


def run(app: Any, host: str, port: int, log_level: str) -> None:
    """Serves `app` in this process."""
    import uvicorn

    metrics.clear_directory()
    config = log_format.uvicorn_config(log_level)
    uvicorn.run(app, host=host, port=port, log_level=log_level, log_config=config)


def serve(host: str, port: int, workers: int, log_level: str) -> None:
    metrics.clear_directory()
    metrics.share()
    config = log_format.uvicorn_config(log_level)
    if not dispatching():
        import uvicorn

        uvicorn.run(
            APP,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            log_config=config,
        )
        return
    if log_format.json_lines():
        logging.config.dictConfig(config)
    else:
        logging.basicConfig(
            level=log_format.level(log_level), format="%(levelname)s:     %(message)s"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listener = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise SystemExit(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    running = [_Worker(context, log_level) for _ in range(workers)]
    lock = threading.Lock()
    dealer = threading.Thread(target=_deal, args=(listener, running, lock, stop), name="dealer")
    dealer.start()
    failed = False
    while not stop.wait(0.2):
        for i, worker in enumerate(running):
            worker.poll()
            code = worker.process.exitcode
            if code is None:
                continue
            age = time.monotonic() - worker.started
            if code > 0 and age < STARTUP_SECONDS:  # not killed: it cannot start
                log.error("worker %s exited at start (code %s)", worker.process.pid, code)
                failed = True
                stop.set()
                break
            if age < 1:  # one start a second at most, whatever kills them
                continue
            log.warning("worker %s exited (code %s); starting another", worker.process.pid, code)
            with lock:
                worker.close()
            metrics.forget(worker.process.pid)
            running[i] = _Worker(context, log_level)
    dealer.join()
    listener.close()
    for worker in running:
        if worker.process.exitcode is None:
            worker.process.terminate()  # SIGTERM: uvicorn finishes what it is answering
    for worker in running:
        worker.process.join(30)
        if worker.process.exitcode is None:
            worker.process.kill()
            worker.process.join()
        worker.close()
        metrics.forget(worker.process.pid)
    if failed:
        raise SystemExit(1)
