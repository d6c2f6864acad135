"""Datapoints: which series a request names (and may read or write), and the engine calls."""

from __future__ import annotations

import bisect
import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, get_args

import numpy as np
import orjson
from pydantic import ValidationError
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from sodata.access.data import readable_devices, writable_devices
from sodata.access.principal import Principal
from sodata.datapoints.schemas import (
    MAX_POINTS,
    MAX_SERIES,
    Aggregation,
    DatapointsQuery,
    Granularity,
    SeriesIn,
    SeriesQuery,
    VariableRef,
)
from sodata.kit.db import commit_writes
from sodata.kit.errors import BadRequest, describe_validation_errors, not_found
from sodata.models import CorporateAccount, Device, Item, Service, Variable
from sodata.models.devices import CARRY_ON_UPDATE_SECONDS
from sodata.timeseries import query, retention, store
from sodata.timeseries.calendar import (
    UnknownZone,
    iso,
    iso_ms,
    to_ms,
    wall_clock_ms,
    zone,
)
from sodata.variables.service import mapping_config, parse_mapping_config

MAX_FUTURE_MS = 3_600_000  # a point may be at most an hour ahead of the server's clock
GRANULARITIES = ", ".join(get_args(Granularity)[1:])  # after raw
AGGREGATIONS = ", ".join(get_args(Aggregation))


class SeriesVariable(NamedTuple):
    """What a datapoints call needs of a variable (plain columns, no ORM objects)."""

    id: int
    uuid: uuid.UUID
    device_id: int
    item_type: str
    item_index: int
    service_id: str
    data_type: str
    unit: str | None
    reset_threshold: float  # delta: the largest decrease that is not a counter reset
    carry_seconds: int  # twa: how long a value holds at most

    @property
    def mapping_config(self) -> str:
        return mapping_config(self.item_type, self.item_index, self.service_id)


# built once: the variables of some devices (building it took longer than running it)
_CATALOG = (
    select(
        Variable.id,
        Variable.uuid,
        Variable.device_id,
        Item.item_type,
        Item.index,
        Service.service_id,
        Service.data_type,
        func.coalesce(Variable.unit, Service.unit),
        func.coalesce(Variable.counter_reset_threshold, 0.0),
        func.coalesce(  # the defaults of VariableUpdate's descriptions
            Variable.max_carry_seconds,
            case(
                (Variable.send_on_update, CARRY_ON_UPDATE_SECONDS), else_=3 * Variable.polling_time
            ),
        ),
    )
    .join(Item, Variable.item_id == Item.id)
    .join(Service, Variable.service_id == Service.id)
    .where(Variable.device_id.in_(bindparam("devices", expanding=True)))
)
_CATALOG_OF_SERVICES = _CATALOG.where(Service.service_id.in_(bindparam("services", expanding=True)))


@dataclass
class Catalog:
    """The variables of some devices, by (device, item, index, service) and by uuid."""

    by_key: dict[tuple[int, str, int, str], SeriesVariable]
    by_uuid: dict[uuid.UUID, SeriesVariable]

    @staticmethod
    def of(
        session: Session, device_ids: Sequence[int], services: set[str] | None = None
    ) -> Catalog:
        """The variables of the devices (only those of `services` if given), read as plain
        rows: no ORM object per variable."""
        params: dict[str, Any] = {"devices": sorted(set(device_ids))}
        stmt = _CATALOG
        if services is not None:
            stmt, params["services"] = _CATALOG_OF_SERVICES, sorted(services)
        rows = session.connection().execute(stmt, params)
        variables = [SeriesVariable._make(row) for row in rows]
        return Catalog(
            {(v.device_id, v.item_type, v.item_index, v.service_id): v for v in variables},
            {v.uuid: v for v in variables},
        )

    @staticmethod
    def of_each(session: Session, device_ids: Sequence[int]) -> dict[int, Catalog]:
        """The variables of each device, apart (a device without any has an empty one)."""
        rows = session.connection().execute(_CATALOG, {"devices": sorted(set(device_ids))})
        catalogs = {device_id: Catalog({}, {}) for device_id in device_ids}
        for v in (SeriesVariable._make(row) for row in rows):
            catalog = catalogs[v.device_id]
            catalog.by_key[v.device_id, v.item_type, v.item_index, v.service_id] = v
            catalog.by_uuid[v.uuid] = v
        return catalogs

    def find(self, device: DeviceRow, ref: VariableRef, field: str) -> SeriesVariable | None:
        """The device's variable that `ref` names (None if it has none; 400 if `ref` is
        incomplete or malformed)."""
        if ref.variable_uuid is not None:
            variable = self.by_uuid.get(ref.variable_uuid)
            return variable if variable is not None and variable.device_id == device.id else None
        if ref.mapping_config is not None:
            item_type, index, service_id = parse_mapping_config(
                ref.mapping_config, f"{field}.mappingConfig"
            )
        elif ref.item_type and ref.item_index is not None and ref.service_id:
            if not ref.item_index.isdigit():
                raise BadRequest(
                    f"{field}.itemIndex: {ref.item_index!r} is not an index; use 0, 1, ..."
                )
            item_type, index, service_id = ref.item_type, int(ref.item_index), ref.service_id
        else:
            raise BadRequest(
                f"{field}: name the variable with itemType, itemIndex and serviceId, or with "
                "mappingConfig (Global|0|140100), or with variableUuid"
            )
        return self.by_key.get((device.id, item_type, index, service_id))


class Catalogs(dict[int, Catalog]):
    """Catalogs by device id (of Catalog.of_each), found in as one Catalog is."""

    def find(self, device: DeviceRow, ref: VariableRef, field: str) -> SeriesVariable | None:
        return self[device.id].find(device, ref, field)


def describe(ref: VariableRef) -> str:
    if ref.variable_uuid is not None:
        return str(ref.variable_uuid)
    if ref.mapping_config is not None:
        return ref.mapping_config
    return f"{ref.item_type}|{ref.item_index}|{ref.service_id}"


class DeviceRow(NamedTuple):
    """What reading and writing data need of a device."""

    id: int
    uuid: uuid.UUID
    time_zone: str
    gateway_id: int | None
    status: str


DEVICE_ROW = (Device.id, Device.uuid, Device.time_zone, Device.gateway_id, Device.status)


def device_rows(
    session: Session, uuids: set[uuid.UUID], allowed: ColumnElement[bool]
) -> dict[uuid.UUID, DeviceRow]:
    """The devices of `uuids` that meet `allowed` (a condition on Device), by uuid."""
    if not uuids:
        return {}
    rows = session.execute(select(*DEVICE_ROW).where(Device.uuid.in_(uuids), allowed))
    return {row.uuid: DeviceRow(*row) for row in rows}


# --- the query (PUT /datapoints) ------------------------------------------------------------


def _wall_clock(text: str, field: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{field}: {text!r} is not an ISO 8601 date-time; use e.g. 2022-05-18T00:00:00Z"
        ) from None


def _zone(name: str, field: str):
    try:
        return zone(name)
    except UnknownZone:
        raise BadRequest(
            f"{field}: {name!r} is not an IANA time zone; use e.g. UTC or Europe/Paris"
        ) from None


def _instant_ms(text: str, field: str) -> int:
    moment = _wall_clock(text, field)
    return to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def run_query(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    body: DatapointsQuery,
    notices: list[str] | None = None,
) -> dict[str, Any]:
    """The answer of PUT /datapoints. A series whose first page holds no point adds a line to
    `notices` (if given): the range asked and the span of the data the series has, if any."""
    raw = body.granularity == "raw"
    start_wall = _wall_clock(body.from_, "from")
    end_wall = _wall_clock(body.to, "to")
    if start_wall.replace(tzinfo=None) >= end_wall.replace(tzinfo=None):
        raise BadRequest("from: must be before to (from is inclusive, to exclusive)")
    shared_zone = _zone(body.timezone, "timezone")
    for i, series in enumerate(body.series):
        field = f"series[{i}].aggregation"
        if raw and series.aggregation is not None:
            raise BadRequest(
                f"{field}: raw granularity takes no aggregation; remove it, or choose a "
                f"granularity among {GRANULARITIES}"
            )
        if not raw and series.aggregation is None:
            raise BadRequest(
                f"{field}: granularity {body.granularity} needs an aggregation among {AGGREGATIONS}"
            )
        if series.device_uuid is None and series.variable_uuid is None:
            raise BadRequest(f"series[{i}].deviceUuid: required unless variableUuid is given")

    devices, variables = _resolve_query(session, principal, ca, body.series)
    answers = []
    db = store.Db(session)
    for i, (series, device, variable) in enumerate(
        zip(body.series, devices, variables, strict=True)
    ):
        tz = (
            _zone(device.time_zone, "deviceTimeZone")
            if body.use_device_local_timezone
            else shared_zone
        )
        start, end = wall_clock_ms(start_wall, tz), wall_clock_ms(end_wall, tz)
        after = None if series.after is None else _instant_ms(series.after, f"series[{i}].after")
        if raw:
            page = query.raw(db, variable.id, start, end, after, body.take)
        else:
            assert series.aggregation is not None
            page = query.aggregate(
                db,
                variable.id,
                start,
                end,
                after,
                body.take,
                body.granularity,
                series.aggregation,
                tz,
                threshold=variable.reset_threshold,
                carry=variable.carry_seconds * 1000,
            )
        answer: dict[str, Any] = {
            "itemType": variable.item_type,
            "itemIndex": str(variable.item_index),
            "serviceId": variable.service_id,
            "deviceUuid": str(device.uuid),
            "variableUuid": str(variable.uuid),
            "mappingConfig": variable.mapping_config,
        }
        if not raw:
            answer["aggregation"] = series.aggregation
        answer |= {
            "dataType": variable.data_type,
            "deviceTimeZone": device.time_zone,
            "unit": variable.unit,
            "data": _points(page.t, page.v),
            "nextAfter": None if page.next_after is None else iso_ms(page.next_after),
        }
        answers.append(answer)
        if notices is not None and after is None and len(page.t) == 0:
            notices.append(_no_data(db, i, variable, device, start, end))
    return {
        "from": body.from_,
        "to": body.to,
        "timezone": body.timezone,
        "useDeviceLocalTimezone": body.use_device_local_timezone,
        "granularity": body.granularity,
        "series": answers,
    }


def _no_data(
    db: store.Db, i: int, variable: SeriesVariable, device: DeviceRow, start: int, end: int
) -> str:
    """Why series i answers no point (ASCII, for a response header): the range asked, and
    where the variable's data lies, if it has any (two index lookups, only for an empty
    series)."""
    span = store.extent(db, variable.id)
    where = (
        "the variable has no data at all"
        if span is None
        else f"its data spans {iso_ms(span[0])} to {iso_ms(span[1])}"
    )
    text = (
        f"series[{i}] ({variable.mapping_config} of device {device.uuid}): no data from "
        f"{iso_ms(start)} to {iso_ms(end)}; {where}"
    )
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _resolve_query(
    session: Session, principal: Principal, ca: CorporateAccount, series: list[SeriesQuery]
) -> tuple[list[DeviceRow], list[SeriesVariable]]:
    readable = readable_devices(principal, ca)
    by_variable: dict[uuid.UUID, DeviceRow] = {}
    wanted_variables = {s.variable_uuid for s in series if s.device_uuid is None}
    if wanted_variables:
        rows = session.execute(
            select(Variable.uuid, *DEVICE_ROW)
            .join(Device, Variable.device_id == Device.id)
            .where(Variable.uuid.in_(wanted_variables), readable)
        )
        by_variable = {variable: DeviceRow._make(device) for variable, *device in rows}
    devices_by_uuid = device_rows(
        session, {s.device_uuid for s in series if s.device_uuid is not None}, readable
    )
    devices = []
    for s in series:
        if s.device_uuid is None:
            device = by_variable.get(s.variable_uuid)  # type: ignore[arg-type]
            if device is None:
                raise not_found("Variable", s.variable_uuid)
        else:
            device = devices_by_uuid.get(s.device_uuid)
            if device is None:
                raise not_found("Device", s.device_uuid)
        devices.append(device)
    services = None  # only the variables of the services named, when no series names a uuid
    if all(s.variable_uuid is None for s in series):
        named = (
            s.mapping_config.rpartition("|")[2] if s.mapping_config else s.service_id
            for s in series
        )
        services = {service for service in named if service}
    catalog = Catalog.of(session, [d.id for d in devices], services)
    variables = []
    for i, (s, device) in enumerate(zip(series, devices, strict=True)):
        variable = catalog.find(device, s, f"series[{i}]")
        if variable is None:
            raise BadRequest(
                f"series[{i}]: device {device.uuid} has no {describe(s)}; list its variables "
                f"with GET /api/v1/ca/{ca.uuid}/devices/{device.uuid}/variables"
            )
        variables.append(variable)
    return devices, variables


def _points(t: np.ndarray, v: np.ndarray) -> orjson.Fragment:
    """The JSON of [{"at", "value"}], written straight to bytes: whole numbers as integers (as
    in the spec: "value": 4), NaN as null."""
    if len(t) == 0:
        return orjson.Fragment(b"[]")
    values = v.astype(object)
    whole = np.flatnonzero(np.isfinite(v) & (np.trunc(v) == v) & (np.abs(v) < 2**53))
    values[whole] = v[whole].astype(np.int64).astype(object)
    values[np.isnan(v)] = None
    numbers = orjson.dumps(values.tolist())[1:-1].split(b",")  # no number holds a comma
    pairs = zip(iso(t).tolist(), numbers, strict=True)
    return orjson.Fragment(b"[%b]" % b",".join([b'{"at":"%b","value":%b}' % p for p in pairs]))


# --- ingestion (POST /devices/{device}/datapoints) ----------------------------------------


class Rejections:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.count = 0

    def series(self, index: int, points: int, reason: str) -> None:
        self.errors.append({"series": index, "point": None, "at": None, "reason": reason})
        self.count += points

    def point(self, index: int, point: int, at: Any, reason: str) -> None:
        shown = at if isinstance(at, str | int | float) and len(str(at)) <= 64 else None
        self.errors.append({"series": index, "point": point, "at": shown, "reason": reason})
        self.count += 1


class Series(NamedTuple):
    """One series of an ingestion batch: its fields but `data`, validated (`ref`, shared by the
    batches that name the same variable), and its points as sent."""

    ref: SeriesIn
    data: list[Any]


def parse_ingest(body: Any) -> list[Series]:
    """The batch's series with their points left as sent (each point is checked on its own,
    so one bad point does not refuse the batch)."""
    if (
        not isinstance(body, dict)
        or set(body) != {"series"}
        or not isinstance(body["series"], list)
    ):
        raise BadRequest(
            'body: send {"series": [{"mappingConfig": ..., "data": [{"at", "value"}]}]}'
        )
    if len(body["series"]) > MAX_SERIES:
        raise BadRequest(f"series: at most {MAX_SERIES} series per call")
    parsed = []
    total = 0
    for i, raw in enumerate(body["series"]):
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
            raise BadRequest(f'series[{i}]: an object with "data": [{{"at", "value"}}, ...]')
        total += len(raw["data"])
        if total > MAX_POINTS:
            raise BadRequest(f"series: at most {MAX_POINTS} points per call; split the batch")
        parsed.append(Series(_series_ref(raw, i), raw["data"]))
    return parsed


_REFS: dict[tuple, SeriesIn] = {}  # a series' fields but its data, validated: a device sends
_MAX_REFS = 100_000  # the same ones in every batch


def _series_ref(raw: dict[str, Any], i: int) -> SeriesIn:
    """The series `raw` (the i-th of its batch) validated, with no data."""
    key: tuple | None
    if len(raw) == 2 and type(name := raw.get("mappingConfig")) is str:
        key = (name,)  # the usual series: {"mappingConfig", "data"}
    else:
        try:
            # with the types: 1, 1.0 and True are equal keys, but not equally valid
            key = tuple((k, type(v), v) for k, v in raw.items() if k != "data")
            hash(key)
        except TypeError:  # a list or an object among the fields: refused below
            key = None
    ref = _REFS.get(key) if key is not None else None
    if ref is None:
        try:
            ref = SeriesIn.model_validate({**raw, "data": []})
        except ValidationError as exc:
            errors = [{**e, "loc": ("series", i, *e["loc"])} for e in exc.errors()]
            raise BadRequest(describe_validation_errors(errors)) from None
        if key is not None:
            if len(_REFS) >= _MAX_REFS:
                _REFS.clear()
            _REFS[key] = ref
    return ref


def decode_body(body: bytes) -> object:
    """A JSON body as sent (over HTTP or MQTT); 400 if it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:  # numbers too large for a double (1e999): their points are rejected, not the batch
            decoded = json.loads(body, parse_constant=_not_a_number)
            orjson.dumps(decoded)  # a lone surrogate ("\ud800"): json.loads takes it, orjson not
        except (ValueError, TypeError, RecursionError):  # RecursionError: nested too deep
            raise BadRequest(f"body: not valid JSON ({exc})") from None
        return decoded


def _not_a_number(token: str) -> None:
    """json.loads takes NaN and Infinity, which are not JSON (orjson refuses them too)."""
    raise ValueError(token)


def ingest(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    series: list[Series],
    retention_days: int | None = None,
) -> dict[str, Any]:
    writable = writable_devices(principal, ca)
    gateway = device_rows(session, {device_uuid}, writable).get(device_uuid)
    if gateway is None:
        raise not_found("Device", device_uuid)
    children = device_rows(session, Pending.children(gateway, series), writable)
    catalog = Catalog.of(session, [gateway.id, *(d.id for d in children.values())])
    pending = Pending(retention_days)
    answer = pending.add(gateway, children, catalog, series)
    pending.check()
    if pending:  # nothing accepted: nothing to write, no turn to wait for
        commit_writes(session, pending.write)
    return answer


@dataclass
class _Segment:
    """The points of one series of one batch, and the variable they are for."""

    answer: dict[str, Any]
    series: int
    variable_id: int
    boolean: bool
    points: list[Any]


class Pending:
    """Points of one or more batches (HTTP: one; MQTT: a flush of many messages), checked
    together, column-wise (check()), then stored together (write()). Of points of the same
    variable and time, the last added wins."""

    def __init__(self, retention_days: int | None = None) -> None:
        self.retention_days = retention_days  # older points are refused (timeseries/retention)
        self._segments: list[_Segment] = []
        self._answers: list[tuple[dict[str, Any], Rejections]] = []
        # the good points, as columns: variable, time, value
        self._columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __bool__(self) -> bool:
        return any(len(t) for _, t, _ in self._columns)

    @staticmethod
    def children(gateway: DeviceRow, series: list[Series]) -> set[uuid.UUID]:
        """The other devices the series name (a gateway's child devices, or so they say)."""
        named = {s.ref.device_uuid for s in series}
        named.discard(None)
        named.discard(gateway.uuid)
        return named  # type: ignore[return-value]

    def add(
        self,
        gateway: DeviceRow,
        children: dict[uuid.UUID, DeviceRow],
        catalog: Catalog | Catalogs,
        series: list[Series],
    ) -> dict[str, Any]:
        """Take a batch sent for `gateway` (a device, or a gateway and the `children` it names:
        those found of Pending.children). Its answer, complete once check() has run, counts the
        points accepted and rejected, and says why each was rejected."""
        rejections = Rejections()
        answer: dict[str, Any] = {"accepted": 0, "rejected": 0, "errors": rejections.errors}
        self._answers.append((answer, rejections))
        for i, (s, points) in enumerate(series):
            device = (
                gateway if s.device_uuid in (None, gateway.uuid) else children.get(s.device_uuid)
            )
            if device is None or (device is not gateway and device.gateway_id != gateway.id):
                rejections.series(
                    i,
                    len(points),
                    f"deviceUuid: {s.device_uuid} is not a child device of gateway {gateway.uuid}",
                )
                continue
            if device.status != "ACCEPTED":
                rejections.series(
                    i,
                    len(points),
                    f"device {device.uuid} is {device.status.lower()}; only activated devices "
                    "take data",
                )
                continue
            try:
                variable = catalog.find(device, s, f"series[{i}]")
            except BadRequest as exc:
                rejections.series(i, len(points), exc.message)
                continue
            if variable is None:
                rejections.series(
                    i, len(points), f"device {device.uuid} has no variable {describe(s)}"
                )
                continue
            boolean = variable.data_type == "boolean"
            self._segments.append(_Segment(answer, i, variable.id, boolean, points))
        return answer

    def check(self) -> None:
        """Check the points of every batch added, column-wise (one pass per kind of value, not
        one per series), keep the good ones, and complete the answers."""
        now = int(time.time() * 1000)
        rejections = {id(answer): r for answer, r in self._answers}
        for boolean in (False, True):
            segments = [g for g in self._segments if g.boolean is boolean]
            if not segments:
                continue
            points = [p for g in segments for p in g.points]
            t, v, ok, bad = _checked(points, boolean, now, self.retention_days)
            edges = np.cumsum([0, *(len(g.points) for g in segments)]).tolist()
            for j, at, reason in bad:
                k = bisect.bisect_right(edges, j) - 1
                rejections[id(segments[k].answer)].point(
                    segments[k].series, j - edges[k], at, reason
                )
            vids = np.repeat([g.variable_id for g in segments], np.diff(edges))
            self._columns.append((vids[ok], t[ok], v[ok]))
            good = np.r_[0, np.cumsum(ok)]
            accepted = good[edges[1:]] - good[edges[:-1]]  # per segment (some may be empty)
            for g, count in zip(segments, accepted.tolist(), strict=True):
                g.answer["accepted"] += count
        for answer, r in self._answers:
            r.errors.sort(key=lambda e: (e["series"], -1 if e["point"] is None else e["point"]))
            answer["rejected"] = r.count
        self._segments, self._answers = [], []

    def write(self, session: Session) -> None:
        """Store the points kept (in the session's transaction; the caller commits)."""
        if self._columns:
            store.write_columns(session, *map(np.concatenate, zip(*self._columns, strict=True)))


def _checked(
    points: list[Any], boolean: bool, now: int, retention_days: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, Any, str]]]:
    """Times (ms) and values of the points, which of them are good, and for each of the others
    (index, its `at` as sent, why it is rejected). Well-formed points take the vectorized path.
    With `retention_days`, points older than that are refused."""
    n = len(points)
    malformed = np.zeros(n, dtype=bool)
    try:
        ats = [p["at"] for p in points]
        values = [p["value"] for p in points]
        if set(map(len, points)) != {2}:
            raise KeyError
    except (TypeError, KeyError):
        ats, values = [], []
        for j, p in enumerate(points):
            well_formed = isinstance(p, dict) and set(p) == {"at", "value"}
            ats.append(p["at"] if well_formed else None)
            values.append(p["value"] if well_formed else None)
            malformed[j] = not well_formed
    t, t_ok = _times(ats)
    v, v_ok = _values(values, boolean)
    t_ok &= ~malformed
    ok = t_ok & v_ok
    future = ok & (t > now + MAX_FUTURE_MS)
    oldest = max(0, retention.horizon(retention_days, now) or 0)
    past = ok & (t < oldest)
    bad = []
    for j in np.flatnonzero(~ok | future | past).tolist():
        if malformed[j]:
            reason = 'a point is {"at": "2022-05-18T00:05:05Z", "value": 4}'
        elif not t_ok[j]:
            reason = (
                f"at: {_quote(ats[j])} is not an ISO 8601 date-time such as 2022-05-18T00:05:05Z"
            )
        elif not v_ok[j]:
            reason = _value_reason(values[j], boolean)
        elif future[j]:
            reason = "at: more than an hour ahead of the server's clock"
        elif t[j] < 0:
            reason = "at: before 1970-01-01T00:00:00Z"
        else:
            reason = (
                f"at: older than the {retention_days} days raw points are kept; the oldest time "
                f"taken now is {iso_ms(oldest)}"
            )
        bad.append((j, None if malformed[j] else ats[j], reason))
    return t, v, ok & ~future & ~past, bad


def _quote(value: Any) -> str:
    """The value as JSON wrote it (true, null, "abc")."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 64 else text[:60] + "..."


_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]


def _utc_times(ats: list[Any]) -> np.ndarray | None:
    """The common case, checked and parsed column-wise: every time written
    2022-05-18T00:05:05Z or 2022-05-18T00:05:05.250Z. None if any is not."""
    try:
        if set(map(type, ats)) != {str}:
            return None
        joined = "".join(ats)
        if "\x00" in joined:  # the matrix below would read "...:05Z\x00\x00\x00\x00" as "...:05Z"
            return None
        widths = set(map(len, ats))
        if len(widths) == 1 and widths <= {20, 24}:  # one width: the bytes as a matrix at once
            width = widths.pop()
            text = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
            chars = np.zeros((len(ats), 24), dtype=np.uint8)
            chars[:, :width] = text.reshape(len(ats), width)
        elif widths <= {20, 24}:
            chars = np.array(ats, dtype="S24").view(np.uint8).reshape(len(ats), 24)
        else:
            return None
    except UnicodeEncodeError:
        return None
    length = np.count_nonzero(chars, axis=1)
    short = length == 20
    digits = chars[:, _DIGITS]
    millis = chars[:, 20:23]
    shape_ok = (
        np.all(short | (length == 24))
        and np.all((digits >= 48) & (digits <= 57))
        and np.all(chars[:, [4, 7]] == 45)  # -
        and np.all(chars[:, 10] == 84)  # T
        and np.all(chars[:, [13, 16]] == 58)  # :
        and np.all(
            np.where(
                short,
                chars[:, 19] == 90,  # Z
                (chars[:, 19] == 46)
                & (chars[:, 23] == 90)
                & np.all((millis >= 48) & (millis <= 57), axis=1),
            )
        )
    )
    if not shape_ok:
        return None
    d = digits.astype(np.int64) - 48
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day, hour, minute, second = (d[:, k] * 10 + d[:, k + 1] for k in (4, 6, 8, 10, 12))
    milli = np.where(short, 0, (millis.astype(np.int64) - 48) @ np.array([100, 10, 1]))
    if np.any((month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59) | (second > 59)):
        return None
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    length = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    if np.any(day > length):  # February 30
        return None
    days = first.astype("datetime64[D]").astype(np.int64) + day - 1
    return ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli


def _times(ats: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    n = len(ats)
    fast = _utc_times(ats) if n else None
    if fast is not None:
        return fast, np.ones(n, dtype=bool)
    t = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    for j, a in enumerate(ats):
        # CPython's fromisoformat skips some NULs: it takes "...:00Z\x00garbage" for "...:00Z"
        # and "...:00\x00+05:00" for "...:00+05:00"
        if type(a) is str and len(a) <= 64 and "\x00" not in a:
            try:
                moment = datetime.fromisoformat(a)
            except ValueError:
                continue
            t[j] = to_ms(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
            ok[j] = True
    return t, ok


def _values(values: list[Any], boolean: bool) -> tuple[np.ndarray, np.ndarray]:
    n = len(values)
    accepted = (int, float, bool) if boolean else (int, float)
    if n and set(map(type, values)) <= {int, float}:
        try:
            v = np.array(values, dtype=np.float64)
            return v, np.isfinite(v)
        except OverflowError:
            pass
    v = np.zeros(n, dtype=np.float64)
    ok = np.zeros(n, dtype=bool)
    for j, x in enumerate(values):
        if type(x) in accepted:
            try:
                f = float(x)
            except OverflowError:
                continue
            if math.isfinite(f):
                v[j], ok[j] = f, True
    return v, ok


def _value_reason(value: Any, boolean: bool) -> str:
    if boolean:
        return f"value: {_quote(value)} is not true, false or a number"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return f"value: {_quote(value)} is not a finite number"
    return f"value: {_quote(value)} is not a number; this variable holds numbers"
