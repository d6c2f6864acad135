"""The workers' broker connection: an MQTT 5 consumer of QoS 1 messages, acknowledged in batches.

paho-mqtt (which sodata uses for everything else) took about 60% of a worker's CPU under load
(bench/mqtt.py, py-spy): three recv calls, a full Properties object and a threading.Condition
per message. This consumer does only what a worker needs, on an asyncio loop in a thread of
its own: it reads the socket in large chunks and parses the packets of a chunk in one pass
(only the Response Topic and Correlation Data of the properties are kept), puts the chunk's
messages into the worker's inbox as one list, and writes the PUBACKs of a whole batch, once
the worker has committed it, in one write.

Protocol (MQTT 5.0, OASIS): CONNECT with clean start off and a session that never expires
(the broker keeps the session and its unacknowledged messages while the worker is away),
Receive Maximum; SUBSCRIBE at QoS 1 with retain handling 0; PUBACK per received QoS 1 PUBLISH
(packet identifiers are the broker's: a message sent again after a reconnection comes with
the same one, so an acknowledgement is sent on the connection the batch's messages came on,
or not at all: what it did not acknowledge, the broker sends again, and storing a point twice
stores it once); PUBLISH of the answers at QoS 1 (best effort: not sent again after a
reconnection); PINGREQ every KEEPALIVE / 2 seconds; DISCONNECT on stop. After a lost or
refused connection it connects again, every RECONNECT_SECONDS.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sodata.config import Settings
from sodata.kit import metrics
from sodata.kit.errors import Throttled
from sodata.mqtt.connection import KEEPALIVE

log = logging.getLogger("sodata.mqtt")
NEVER = 0xFFFFFFFF  # session expiry: the session outlives any outage of its worker
RECONNECT_SECONDS = 1.0
HANDSHAKE_SECONDS = 10.0
READ_SIZE = 1 << 18

# packet types (the high nibble of the first byte)
CONNACK, PUBLISH, PUBACK, SUBACK, PINGRESP, DISCONNECT = 2, 3, 4, 9, 13, 14
# property identifier -> size: 1, 2, 4 bytes, "v" variable integer, "s" string or binary
# (two-byte length), "p" string pair
_PROPERTY_SIZES = {
    **dict.fromkeys((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A), 1),
    **dict.fromkeys((0x13, 0x21, 0x22, 0x23), 2),
    **dict.fromkeys((0x02, 0x11, 0x18, 0x27), 4),
    0x0B: "v",
    **dict.fromkeys((0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F), "s"),
    0x26: "p",
}
RESPONSE_TOPIC, CORRELATION_DATA = 0x08, 0x09


class ProtocolError(Exception):
    pass


@dataclass(slots=True)
class Received:
    """A QoS 1 message: where it came from, and what an answer needs."""

    topic: str
    payload: bytes
    packet_id: int
    connection: int  # which connection it came on (acknowledged on that one only)
    response_topic: str | None = None
    correlation: bytes | None = None


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def text(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _read_varint(data: bytes | bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """(value, position after it), None if incomplete before `end`."""
    value, shift = 0, 0
    while True:
        if pos >= end:
            return None
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise ProtocolError("malformed variable byte integer")


def connect_packet(settings: Settings, client_id: str, receive_maximum: int) -> bytes:
    flags = 0x00  # clean start off: the broker keeps the session
    if settings.mqtt_username is not None:
        flags |= 0x80
    if settings.mqtt_password is not None:
        flags |= 0x40
    properties = b"\x11" + NEVER.to_bytes(4, "big") + b"\x21" + receive_maximum.to_bytes(2, "big")
    header = text("MQTT") + bytes([5, flags]) + KEEPALIVE.to_bytes(2, "big")
    payload = text(client_id)
    if settings.mqtt_username is not None:
        payload += text(settings.mqtt_username)
    if settings.mqtt_password is not None:
        payload += text(settings.mqtt_password)
    return _packet(0x10, header + _varint(len(properties)) + properties + payload)


def subscribe_packet(packet_id: int, topic_filter: str) -> bytes:
    return _packet(0x82, packet_id.to_bytes(2, "big") + b"\x00" + text(topic_filter) + b"\x01")


def publish_packet(
    packet_id: int, topic: str, payload: bytes, properties: Iterable[tuple[int, bytes]]
) -> bytes:
    encoded = b"".join(bytes([identifier]) + value for identifier, value in properties)
    body = text(topic) + packet_id.to_bytes(2, "big") + _varint(len(encoded)) + encoded + payload
    return _packet(0x32, body)  # QoS 1


def pubacks(packet_ids: Iterable[int]) -> bytes:
    return b"".join(b"\x40\x02" + pid.to_bytes(2, "big") for pid in packet_ids if pid)


_TOPICS: dict[bytes, str] = {}  # decoded once: a device publishes to the same topic


def _publish(body: bytes, flags: int, connection: int) -> Received:
    """A PUBLISH packet's body (after the fixed header). A QoS 0 message (sent so by its
    device) has no packet identifier: 0, and nothing to acknowledge."""
    length = int.from_bytes(body[0:2], "big")
    name = body[2 : 2 + length]
    topic = _TOPICS.get(name)
    if topic is None:
        if len(_TOPICS) >= 100_000:
            _TOPICS.clear()
        topic = _TOPICS[name] = name.decode()
    pos = 2 + length
    packet_id = 0
    if flags & 0x06:  # QoS 1 (the subscription's maximum)
        packet_id = int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
    read = _read_varint(body, pos, len(body))
    if read is None:
        raise ProtocolError("truncated PUBLISH")
    size, pos = read
    end = pos + size
    message = Received(topic, body[end:], packet_id, connection)
    while pos < end:
        identifier = body[pos]
        kind = _PROPERTY_SIZES.get(identifier)
        pos += 1
        if kind == "s":
            length = int.from_bytes(body[pos : pos + 2], "big")
            value = body[pos + 2 : pos + 2 + length]
            if identifier == RESPONSE_TOPIC:
                message.response_topic = value.decode()
            elif identifier == CORRELATION_DATA:
                message.correlation = value
            pos += 2 + length
        elif kind == "p":
            for _ in range(2):
                pos += 2 + int.from_bytes(body[pos : pos + 2], "big")
        elif kind == "v":
            read = _read_varint(body, pos, end)
            if read is None:
                raise ProtocolError("truncated property")
            pos = read[1]
        elif isinstance(kind, int):
            pos += kind
        else:
            raise ProtocolError(f"unknown property 0x{identifier:02x}")
    return message


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: parses what arrives, packet by packet."""

    def __init__(self, consumer: Consumer, number: int) -> None:
        self.consumer = consumer
        self.number = number
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.connack: asyncio.Future[tuple[bool, int]] = self.closed.get_loop().create_future()
        self.suback: asyncio.Future[int] = self.closed.get_loop().create_future()
        self.heard = self.closed.get_loop().time()  # when the broker last sent something

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.connack, self.suback):
            if not future.done():
                future.set_exception(ConnectionError("the broker closed the connection"))
                future.exception()  # retrieved: asyncio logs none if no one awaits it
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.heard = self.closed.get_loop().time()
        buffer = self.buffer
        buffer += data
        pos, end = 0, len(buffer)
        received: list[Received] = []
        try:
            while end - pos >= 2:
                read = _read_varint(buffer, pos + 1, end)
                if read is None:
                    break
                length, start = read
                if start + length > end:
                    break
                first = buffer[pos]
                body = bytes(buffer[start : start + length])
                pos = start + length
                kind = first >> 4
                if kind == PUBLISH:
                    received.append(_publish(body, first & 0x0F, self.number))
                elif kind == PUBACK:
                    self.consumer._answered(int.from_bytes(body[0:2], "big"))
                elif kind == CONNACK and not self.connack.done():
                    self.connack.set_result((bool(body[0] & 1), body[1]))
                elif kind == SUBACK and not self.suback.done():
                    self.suback.set_result(body[-1])  # one filter: one reason code
                elif kind == DISCONNECT:
                    reason = body[0] if body else 0
                    log.warning("the broker disconnected this worker (reason 0x%02x)", reason)
                # PINGRESP and anything else: nothing to do
        except (ProtocolError, IndexError, UnicodeDecodeError) as exc:
            log.error("broken packet from the broker (%s): reconnecting", exc)
            if self.transport is not None:
                self.transport.close()
        del buffer[:pos]
        if received:
            self.consumer.inbox.put(received)
            metrics.MQTT_IN_FLIGHT.inc(len(received))


class Consumer:
    """Connects (and connects again) to the broker, subscribed to `topic_filter` at QoS 1; the
    messages go to `inbox`. `connected` is set while the subscription is in place."""

    def __init__(
        self,
        settings: Settings,
        client_id: str,
        topic_filter: str,
        inbox: queue.SimpleQueue[list[Received]],
        receive_maximum: int,
    ) -> None:
        if settings.mqtt_host is None:
            raise ValueError("no broker: set SODATA_MQTT_HOST (README, MQTT ingestion)")
        self.host: str = settings.mqtt_host
        self.settings = settings
        self.client_id = client_id
        self.topic_filter = topic_filter
        self.inbox = inbox
        self.receive_maximum = receive_maximum
        self.connected = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mqtt", daemon=True)
        self._connection: _Connection | None = None
        self._stopping = asyncio.Event()  # set on the loop's thread (call_soon_threadsafe)
        self._task: concurrent.futures.Future[None] | None = None
        self._next_id = 0
        self._unanswered: set[int] = set()  # ids of our answers the broker has not acknowledged
        self._failed = Throttled(30.0)

    # --- called from the worker's thread

    def start(self) -> None:
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    def stop(self) -> None:
        """Disconnects (the session stays with the broker) and ends the thread."""
        self._loop.call_soon_threadsafe(self._stopping.set)
        if self._task is not None:
            try:
                self._task.result(timeout=HANDSHAKE_SECONDS)
            except Exception as exc:  # noqa: BLE001 - stopping anyway
                log.warning("the broker connection did not end cleanly: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(HANDSHAKE_SECONDS)

    def ack(self, messages: Iterable[Received]) -> None:
        """PUBACK these messages, in one write, if the connection they came on is still up."""
        by_connection: dict[int, list[int]] = {}
        for m in messages:
            by_connection.setdefault(m.connection, []).append(m.packet_id)
        for number, ids in by_connection.items():
            self._loop.call_soon_threadsafe(self._write, number, pubacks(ids))

    def publish(self, topic: str, payload: bytes, properties: list[tuple[int, bytes]]) -> None:
        """A QoS 1 message (an answer), on the current connection, if any."""
        self._loop.call_soon_threadsafe(self._publish, topic, payload, properties)

    # --- on the loop's thread

    def _write(self, number: int, data: bytes) -> None:
        connection = self._connection
        if connection is not None and connection.number == number and connection.transport:
            if not connection.transport.is_closing():
                connection.transport.write(data)

    def _publish(self, topic: str, payload: bytes, properties: list[tuple[int, bytes]]) -> None:
        connection = self._connection
        if connection is None or connection.transport is None or not self.connected.is_set():
            return  # best effort: the message is stored, its answer is lost
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._unanswered:
                break
        else:
            return
        self._unanswered.add(self._next_id)
        connection.transport.write(publish_packet(self._next_id, topic, payload, properties))

    def _answered(self, packet_id: int) -> None:
        self._unanswered.discard(packet_id)

    async def _run(self) -> None:
        number = 0
        while not self._stopping.is_set():
            number += 1
            try:
                await self._session(number)
            except (TimeoutError, OSError, ConnectionError, ProtocolError) as exc:
                self._failed.warning("no connection to the broker (%s); trying again", exc)
            finally:
                if self.connected.is_set():
                    log.warning("disconnected from the broker; reconnecting")
                self.connected.clear()
                self._connection = None
                self._unanswered.clear()
            try:
                await asyncio.wait_for(self._stopping.wait(), RECONNECT_SECONDS)
            except TimeoutError:
                pass

    async def _session(self, number: int) -> None:
        loop = asyncio.get_running_loop()
        context = None
        if self.settings.mqtt_tls:
            cafile = str(self.settings.mqtt_ca_file) if self.settings.mqtt_ca_file else None
            context = ssl.create_default_context(cafile=cafile)
        transport, connection = await asyncio.wait_for(
            loop.create_connection(
                lambda: _Connection(self, number),
                self.host,
                self.settings.mqtt_port,
                ssl=context,
            ),
            HANDSHAKE_SECONDS,
        )
        transport.set_write_buffer_limits(high=1 << 22)
        try:
            transport.write(connect_packet(self.settings, self.client_id, self.receive_maximum))
            present, reason = await asyncio.wait_for(connection.connack, HANDSHAKE_SECONDS)
            if reason >= 0x80:  # bad credentials, or not authorized: said every 30 s
                self._failed.warning("the broker refused the connection: reason 0x%02x", reason)
                return
            # a session present may deliver its messages at once: they are acknowledged here
            self._connection = connection
            transport.write(subscribe_packet(1, self.topic_filter))
            granted = await asyncio.wait_for(connection.suback, HANDSHAKE_SECONDS)
            if granted >= 0x80:
                self._failed.warning("the broker refused the subscription: 0x%02x", granted)
                return
            self.connected.set()
            log.info("connected to the broker (session present: %s)", present)
            stopping = asyncio.ensure_future(self._stopping.wait())
            ends: set[asyncio.Future[Any]] = {connection.closed, stopping}
            while not connection.closed.done():
                done, _ = await asyncio.wait(
                    ends,
                    timeout=KEEPALIVE / 2,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if stopping in done:
                    transport.write(b"\xe0\x00")  # DISCONNECT, normal: the session stays
                    break
                if not done:
                    if loop.time() - connection.heard > 1.5 * KEEPALIVE:  # no PINGRESP
                        log.warning("the broker stopped answering; reconnecting")
                        break
                    transport.write(b"\xc0\x00")  # PINGREQ
            stopping.cancel()
        finally:
            transport.close()
