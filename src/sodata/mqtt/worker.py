"""`sodata mqtt`: workers that take the devices' messages from the broker and store them.

Each worker is a process with a persistent MQTT 5 session of its own (client id
`<mqtt_client_id>-<i>`, no expiry, clean start off) subscribed at QoS 1 to the datapoints topics
through a shared subscription (`$share/<group>/...`): the broker deals each message to one
worker of the group. A worker takes up to mqtt_batch_size messages, or what came within
mqtt_flush_seconds of the first, stores them in one transaction (mqtt/ingest.py), and only then
publishes their answers and acknowledges them (PUBACK; mqtt/consumer.py). A worker killed
before that has acknowledged nothing of its batch: the broker sends the messages again when it
is back (the supervisor starts it again, with the same session), and a point stored twice is
stored once (the same variable and time overwrite).

While the database is unavailable, a worker keeps its batch unacknowledged and tries again
(every RETRY_SECONDS); the broker holds what else comes. On SIGTERM or SIGINT a worker
finishes the batch it is storing, acknowledges it, and leaves the rest to its session.

The parent process supervises the workers (one that dies is started again) and, with
--http-port, answers GET /health, GET /ready (the database answers and every worker is
connected to the broker) and GET /metrics.
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import queue
import signal
import threading
import time
from typing import Any

import orjson

from sodata.config import Settings
from sodata.kit import log_format, metrics
from sodata.kit.db import make_engine, make_sessionmaker
from sodata.kit.errors import Overloaded, Throttled, error_body, overload_reason
from sodata.mqtt import topics
from sodata.mqtt.consumer import Consumer, Received, text
from sodata.mqtt.dynsec import RECONCILE_SECONDS, BrokerUnavailable, DynamicSecurity
from sodata.mqtt.ingest import Answer, Directory, flush

log = logging.getLogger("sodata.mqtt")
RETRY_SECONDS = 1.0  # between attempts to store a batch while the database is unavailable
STARTUP_SECONDS = 5.0  # a worker that fails within this of its start cannot run: stop
STOP_SECONDS = 30.0  # how long the parent waits for a worker to finish its batch


class Worker:
    """One broker session and the loop that stores its messages."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url, connections=1)
        self.sessions = make_sessionmaker(self.engine)
        self.directory = Directory(settings.mqtt_cache_seconds)
        # what the consumer received, as it came: a list per read of its socket
        self.inbox: queue.SimpleQueue[list[Received]] = queue.SimpleQueue()
        self._left: list[Received] = []  # what the last batch left of the last list taken
        # the broker sends this many messages before it waits for their PUBACKs: a whole batch
        receive_maximum = min(65535, 2 * settings.mqtt_batch_size)
        self.consumer = Consumer(
            settings,
            client_id,
            topics.shared(settings.mqtt_share_group),
            self.inbox,
            receive_maximum,
        )
        self.connected = self.consumer.connected
        self._unavailable = Throttled(30.0)

    def run(self, stop: threading.Event) -> None:
        self.consumer.start()
        try:
            while not stop.is_set():
                batch = self._take()
                if batch:
                    self._store(batch, stop)
        finally:
            self.consumer.stop()
            self.engine.dispose()

    def _take(self) -> list[Received]:
        """The next batch: what came within mqtt_flush_seconds of its first message."""
        batch, size = self._left, self.settings.mqtt_batch_size
        if not batch:
            try:
                batch = self.inbox.get(timeout=0.2)
            except queue.Empty:
                return []
        deadline = time.monotonic() + self.settings.mqtt_flush_seconds
        while len(batch) < size:
            try:
                batch += self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        batch, self._left = batch[:size], batch[size:]
        return batch

    def _store(self, batch: list[Received], stop: threading.Event) -> None:
        while True:
            try:
                answers = self._flush(batch)
                break
            except Exception as exc:  # noqa: BLE001 - unavailable: retry; else one by one
                reason = _unavailable(exc)
                if reason is None:
                    answers = [self._alone(m) for m in batch]
                    break
                self._unavailable.warning(
                    "database unavailable (%s): %d messages wait, unacknowledged",
                    reason,
                    len(batch),
                )
                if stop.wait(RETRY_SECONDS):
                    metrics.MQTT_IN_FLIGHT.dec(len(batch))
                    return  # stopping: nothing acknowledged, the session keeps the messages
        committed = time.monotonic()
        stored = [a.body for a in answers if a.status == 200]
        metrics.count_points(
            "mqtt", sum(a["accepted"] for a in stored), sum(a["rejected"] for a in stored)
        )
        for message, answer in zip(batch, answers, strict=True):
            if message.response_topic:
                self._answer(message, answer)
        self.consumer.ack(batch)
        metrics.MQTT_COMMIT_TO_ACK.observe(time.monotonic() - committed)
        metrics.MQTT_IN_FLIGHT.dec(len(batch))

    def _flush(self, messages: list[Received]) -> list[Answer]:
        with self.sessions() as session:
            return flush(session, self.directory, messages, self.settings.raw_retention_days)

    def _alone(self, message: Received) -> Answer:
        """A message whose batch failed for another reason than the database's availability,
        stored on its own; if it fails alone, it is answered 500, logged and acknowledged
        (sent again, it would fail again and hold the session's queue for ever)."""
        try:
            return self._flush([message])[0]
        except Exception as exc:
            if _unavailable(exc) is not None:
                raise
            log.exception("could not store a message on %s", message.topic)
            return Answer(500, error_body(500, "sodata could not store this message"))

    def _answer(self, message: Received, answer: Answer) -> None:
        """The answer, to the Response Topic the publisher set, with its Correlation Data, and
        a `status` user property (what HTTP would answer)."""
        properties = [(0x03, _JSON), (0x26, _STATUS + text(str(answer.status)))]
        if message.correlation is not None:
            properties.insert(0, (0x09, text(message.correlation)))
        self.consumer.publish(
            message.response_topic,  # type: ignore[arg-type]
            orjson.dumps(answer.body),
            properties,
        )


_JSON = text("application/json")  # Content Type
_STATUS = text("status")  # the name of the user property


def _unavailable(exc: BaseException) -> str | None:
    if isinstance(exc, Overloaded):
        return exc.message
    return overload_reason(exc)


# --- the processes ----------------------------------------------------------------------------


def configure_logging(log_level: str) -> None:
    """uvicorn's format for every line (JSON with SODATA_LOG_FORMAT=json), as `sodata serve`."""
    config = log_format.uvicorn_config(log_level)
    config.setdefault("root", {"handlers": ["default"], "level": log_format.level(log_level)})
    logging.config.dictConfig(config)


def _work(index: int, connected: Any, log_level: str) -> None:
    """A worker process: its settings from the environment (as `sodata serve --workers`)."""
    settings = Settings()
    configure_logging(log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = Worker(settings, f"{settings.mqtt_client_id}-{index}")

    def watch() -> None:  # tell the parent whether this worker is connected
        while not stop.is_set():
            connected[index] = worker.connected.is_set()
            stop.wait(0.2)

    threading.Thread(target=watch, daemon=True).start()
    worker.run(stop)


class Supervisor:
    """Starts `workers` worker processes and starts again any that dies."""

    def __init__(self, workers: int, log_level: str = "info") -> None:
        self.log_level = log_level
        self.context = multiprocessing.get_context("spawn")
        self.connected = self.context.Array("b", workers, lock=False)
        self.processes: list[Any] = [None] * workers
        self.started = [0.0] * workers
        self.stopping = threading.Event()

    def _start(self, index: int) -> None:
        process = self.context.Process(
            target=_work, args=(index, self.connected, self.log_level), name=f"sodata-mqtt-{index}"
        )
        process.start()
        self.processes[index], self.started[index] = process, time.monotonic()

    def ready(self) -> bool:
        return all(self.connected)

    def _keep_accounts(self, dynsec: DynamicSecurity) -> None:
        """Reconcile the gateways' broker accounts every RECONCILE_SECONDS (mqtt/dynsec.py)."""
        settings = Settings()
        engine = make_engine(settings.database_url, connections=1)
        try:
            while True:
                try:
                    dynsec.ensure_worker_role()
                    with make_sessionmaker(engine)() as session:
                        dynsec.reconcile(session)
                except Exception as exc:  # noqa: BLE001 - the next round tries again
                    log.warning("could not reconcile the broker accounts: %s", exc)
                if self.stopping.wait(RECONCILE_SECONDS):
                    return
        finally:
            engine.dispose()

    def run(self) -> int:
        """Until SIGTERM or SIGINT (0), or a worker that cannot start (1)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        dynsec = DynamicSecurity.of(Settings())
        if dynsec is not None:  # the workers' own rights first: they answer on the answer topics
            try:
                dynsec.ensure_worker_role()
            except BrokerUnavailable as exc:
                log.warning("could not set sodata's rights on the broker: %s", exc)
            threading.Thread(target=self._keep_accounts, args=(dynsec,), daemon=True).start()
        metrics.clear_directory()
        metrics.share()  # /metrics of the parent sums the workers'
        for index in range(len(self.processes)):
            self._start(index)
        code = 0
        while not self.stopping.wait(0.2):
            for index, process in enumerate(self.processes):
                if process.is_alive():
                    continue
                self.connected[index] = False
                metrics.forget(process.pid)
                failed = process.exitcode is not None and process.exitcode > 0  # not a signal
                if failed and time.monotonic() - self.started[index] < STARTUP_SECONDS:
                    log.error("worker %d could not start (exit code %s)", index, process.exitcode)
                    self.stopping.set()
                    code = 1
                    break
                log.warning(
                    "worker %d ended (exit code %s): starting it again", index, process.exitcode
                )
                self._start(index)
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        return code
