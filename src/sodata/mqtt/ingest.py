"""One flush of MQTT messages: each checked as an HTTP batch is (datapoints.service: the same
parsing, rejection reasons, overwrite rules and last values), all written in one transaction.

The answer of each message is what HTTP would answer: `{"accepted", "rejected", "errors"}`, or
the API's error shape with the status HTTP would give (400 a malformed body, 404 an unknown
account or device). Malformed messages, unknown devices and rejected points also go to the
account's Logs (one entry per device and flush), so nothing is dropped silently.

The broker vouches for the publisher (its dynamic security lets a gateway's account publish
only to its own topic; mqtt/dynsec.py): the device of the topic writes its own data and, if it
is a gateway, that of its child devices, as a client bound to it does over HTTP."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.audit import record
from sodata.datapoints.service import (
    DEVICE_ROW,
    Catalog,
    Catalogs,
    DeviceRow,
    Pending,
    Series,
    decode_body,
    device_rows,
    parse_ingest,
)
from sodata.kit.db import commit_writes
from sodata.kit.errors import BadRequest, error_body
from sodata.models import CorporateAccount, Device
from sodata.mqtt import topics

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MAX_LOGGED_ERRORS = 20  # reasons kept in a Logs entry (the answer has them all)


class Message(Protocol):
    topic: str
    payload: bytes


@dataclass
class Answer:
    status: int  # what HTTP would answer: 200, or an error's status
    body: dict[str, Any]


class _Cache(Generic[K, V]):
    """Values loaded for `seconds` (each for a random part of it, from half to whole, so that
    the devices loaded together are not all read again in one flush); a key not found is looked
    up again at its next use (a device created shows at once)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._items: dict[K, tuple[float, V]] = {}  # value and when it expires

    def get(self, keys: Iterable[K], load: Callable[[list[K]], dict[K, V]]) -> dict[K, V]:
        now = time.monotonic()
        found: dict[K, V] = {}
        missing = []
        for key in set(keys):
            hit = self._items.get(key)
            if hit is not None and now < hit[0]:
                found[key] = hit[1]
            else:
                missing.append(key)
        if missing:
            loaded = load(missing)
            if len(self._items) > 200_000:  # bounded: forget what has expired
                self._items = {k: i for k, i in self._items.items() if now < i[0]}
            for key, value in loaded.items():
                self._items[key] = (now + self.seconds * random.uniform(0.5, 1.0), value)
            found.update(loaded)
        return found


class Directory:
    """The accounts, devices and variables that messages name, cached (Settings.
    mqtt_cache_seconds) so that a flush of thousands of messages reads a few rows at most."""

    def __init__(self, seconds: float) -> None:
        self._accounts: _Cache[uuid.UUID, int] = _Cache(seconds)
        self._by_serial: _Cache[tuple[int, str], DeviceRow] = _Cache(seconds)
        self._by_uuid: _Cache[tuple[int, uuid.UUID], DeviceRow] = _Cache(seconds)
        self._catalogs: _Cache[int, Catalog] = _Cache(seconds)

    def accounts(self, session: Session, uuids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
        def load(keys: list[uuid.UUID]) -> dict[uuid.UUID, int]:
            rows = session.execute(
                select(CorporateAccount.uuid, CorporateAccount.id).where(
                    CorporateAccount.uuid.in_(keys)
                )
            )
            return {ca_uuid: ca_id for ca_uuid, ca_id in rows}

        return self._accounts.get(uuids, load)

    def by_serial(
        self, session: Session, keys: Iterable[tuple[int, str]]
    ) -> dict[tuple[int, str], DeviceRow]:
        def load(wanted: list[tuple[int, str]]) -> dict[tuple[int, str], DeviceRow]:
            found = {}
            for ca_id in {ca_id for ca_id, _ in wanted}:
                serials = [serial for c, serial in wanted if c == ca_id]
                rows = session.execute(
                    select(Device.serial_number, *DEVICE_ROW).where(
                        Device.corporate_account_id == ca_id, Device.serial_number.in_(serials)
                    )
                )
                found.update({(ca_id, serial): DeviceRow._make(row) for serial, *row in rows})
            return found

        return self._by_serial.get(keys, load)

    def by_uuid(
        self, session: Session, keys: Iterable[tuple[int, uuid.UUID]]
    ) -> dict[tuple[int, uuid.UUID], DeviceRow]:
        def load(wanted: list[tuple[int, uuid.UUID]]) -> dict[tuple[int, uuid.UUID], DeviceRow]:
            found = {}
            for ca_id in {ca_id for ca_id, _ in wanted}:
                uuids = {u for c, u in wanted if c == ca_id}
                rows = device_rows(session, uuids, Device.corporate_account_id == ca_id)
                found.update({(ca_id, u): row for u, row in rows.items()})
            return found

        return self._by_uuid.get(keys, load)

    def catalogs(self, session: Session, device_ids: Iterable[int]) -> Catalogs:
        return Catalogs(self._catalogs.get(device_ids, lambda ids: Catalog.of_each(session, ids)))


@dataclass
class _Parsed:
    index: int
    where: topics.DeviceTopic
    series: list[Series] = field(default_factory=list)
    error: str | None = None  # the body is malformed: why
    children: set[uuid.UUID] = field(default_factory=set)  # the other devices it names


@dataclass
class _Note:
    """What one flush says in an account's Logs about one device (or topic)."""

    ca_id: int
    action: str
    where: topics.DeviceTopic
    device: DeviceRow | None
    messages: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def flush(
    session: Session,
    directory: Directory,
    messages: Sequence[Message],
    retention_days: int | None = None,
) -> list[Answer]:
    """Check and store the messages (committed when this returns), and their answers, in
    order; points older than `retention_days` are refused. Raises, storing nothing, when the database cannot commit (the caller keeps the
    messages unacknowledged and tries again)."""
    answers: list[Answer | None] = [None] * len(messages)
    parsed = []
    for i, message in enumerate(messages):
        where = topics.parse(message.topic)
        if where is None:  # the subscription only matches datapoints topics
            answers[i] = Answer(404, error_body(404, f"{message.topic}: not a datapoints topic"))
            continue
        try:
            parsed.append(_Parsed(i, where, parse_ingest(decode_body(message.payload))))
        except BadRequest as exc:
            parsed.append(_Parsed(i, where, error=exc.message))

    accounts = directory.accounts(session, {p.where.ca for p in parsed})
    known = [p for p in parsed if p.where.ca in accounts]
    for p in parsed:
        if p.where.ca not in accounts:
            answers[p.index] = Answer(
                404, error_body(404, f"Corporate account {p.where.ca} not found")
            )
    gateways = directory.by_serial(
        session, {(accounts[p.where.ca], p.where.serial_number) for p in known}
    )

    def gateway_of(p: _Parsed) -> DeviceRow | None:
        return gateways.get((accounts[p.where.ca], p.where.serial_number))

    wanted: set[tuple[int, uuid.UUID]] = set()
    for p in known:
        if p.series and (gateway := gateway_of(p)) is not None:
            p.children = Pending.children(gateway, p.series)
            wanted.update((accounts[p.where.ca], child) for child in p.children)
    children = directory.by_uuid(session, wanted)
    catalogs = directory.catalogs(
        session,
        {g.id for g in map(gateway_of, known) if g is not None} | {d.id for d in children.values()},
    )

    pending = Pending(retention_days)
    notes: dict[tuple[int, str, str], _Note] = {}

    def note(p: _Parsed, action: str, device: DeviceRow | None = None) -> _Note:
        ca_id = accounts[p.where.ca]
        key = (ca_id, p.where.serial_number, action)
        if key not in notes:
            notes[key] = _Note(ca_id, action, p.where, device)
        notes[key].messages += 1
        return notes[key]

    for p in known:
        gateway = gateway_of(p)
        if p.error is not None:
            answers[p.index] = Answer(400, error_body(400, p.error))
            note(p, "MQTT_MESSAGE_REJECTED", gateway).errors.append({"reason": p.error})
        elif gateway is None:
            reason = f"no device with serial number {p.where.serial_number!r} in this account"
            answers[p.index] = Answer(404, error_body(404, reason))
            note(p, "MQTT_MESSAGE_REJECTED").errors.append({"reason": reason})
        else:
            ca_id = accounts[p.where.ca]
            named = {u: children[ca_id, u] for u in p.children if (ca_id, u) in children}
            answers[p.index] = Answer(200, pending.add(gateway, named, catalogs, p.series))
    pending.check()
    for p in known:
        answer = answers[p.index]
        if answer is not None and answer.status == 200 and answer.body["rejected"]:
            entry = note(p, "DATAPOINTS_REJECTED", gateway_of(p))
            entry.rejected += answer.body["rejected"]
            entry.errors.extend(answer.body["errors"])

    if pending or notes:

        def work(writer: Session) -> None:
            pending.write(writer)
            for n in notes.values():
                _record(writer, n)

        commit_writes(session, work)
    else:
        session.rollback()  # only read: end the transaction, free the connection
    return answers  # type: ignore[return-value]


def _record(session: Session, note: _Note) -> None:
    where = f"{note.where.serial_number} (topic {topics.datapoints(*note.where)})"
    if note.action == "DATAPOINTS_REJECTED":
        message = f"MQTT: {note.rejected} points rejected from device {where}"
    else:
        message = f"MQTT: {note.messages} messages rejected from device {where}"
    first = note.errors[0].get("reason") if note.errors else None
    record(
        session,
        note.ca_id,
        note.action,
        (f"{message}: {first}" if first else message)[:1000],
        obj=note.device,
        level="WARNING",
        object_type="Device",
        details={
            "serialNumber": note.where.serial_number,
            "messages": note.messages,
            "rejected": note.rejected,
            "errors": note.errors[:MAX_LOGGED_ERRORS],
        },
    )
