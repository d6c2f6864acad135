"""Datapoints in the SDK: building queries (spec 5.8.3 and 7.1) and following their paging,
the result's exports (pandas, CSV, Parquet, JSON), and splitting ingestion into batches.

Shared by both clients, free of I/O. Points are kept column-wise (one list of times and one
of values per series), never as one Python object per point.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from sodata.client._core import Call, ca_path, is_uuid, uuid_of
from sodata.client.errors import MissingDependency
from sodata.client.models import (
    CaRef,
    Device,
    DeviceRef,
    IngestResult,
    Instant,
    Rejection,
    Variable,
    VariableRef,
)

if TYPE_CHECKING:
    import httpx
    import pandas as pd
    import pyarrow as pa

GRANULARITIES = ("raw", "minute", "hour", "day", "week", "month", "year")
# The aggregations of a bucket's points (meanings: `Client.datapoints.query`).
AGGREGATIONS = (
    "avg",
    "min",
    "max",
    "count",
    "sum",
    "var",
    "stdev",
    "first",  # the value of the bucket's earliest point
    "last",  # the value of its latest point
    "delta",  # the increase of a cumulative counter (a reset counted from zero)
    "twa",  # the time-weighted average (a value holds until the next point, up to a limit)
)
MAX_SERIES_PER_CALL = 100
MAX_POINTS_PER_CALL = 100_000
MAX_TAKE = 100_000
NOTICE_HEADER = "Sodata-Notice"  # sodata's server: one per series whose range holds no point


class NoDataWarning(UserWarning):
    """A datapoints query whose range holds no point for a series: the server's own words
    (the range, and the span of the data the variable has, or that it has none), or, from a
    server that does not say (the vendor's), a generic message when every series is empty."""


VariableSpec: TypeAlias = VariableRef | Mapping[str, Any]
"""A variable of a datapoints query: a `Variable`, its uuid, a mapping config such as
"Global|0|140100", or {"itemType", "itemIndex", "serviceId"}."""


@dataclass(frozen=True)
class SeriesSpec:
    """One series of a query: a device, a variable ("Global|0|140100", a `Variable` or a
    variable uuid), its aggregation (default: the query's) and its column name."""

    device: DeviceRef | None
    var: VariableSpec
    aggregation: str | None = None
    name: str | None = None


SeriesLike: TypeAlias = (
    SeriesSpec
    | tuple[DeviceRef | None, VariableSpec]
    | tuple[DeviceRef | None, VariableSpec, str | None]
)
"""A series of `query(series=[...])`: a SeriesSpec, or (device, var[, aggregation])."""


def variable_ref(device: DeviceRef | None, var: VariableSpec) -> dict[str, Any]:
    """How the API names a series' variable: mappingConfig, variableUuid or the spec's
    itemType/itemIndex/serviceId; with the device's uuid when known."""
    ref: dict[str, Any] = {}
    if device is not None:
        ref["deviceUuid"] = uuid_of(device, "device")
    if isinstance(var, Variable):
        ref.setdefault("deviceUuid", str(var.device_uuid))
        ref["variableUuid"] = str(var.uuid)
    elif isinstance(var, uuid.UUID) or (isinstance(var, str) and is_uuid(var)):
        ref["variableUuid"] = str(uuid.UUID(str(var)))
    elif isinstance(var, str) and var.count("|") == 2:
        ref["mappingConfig"] = var
    elif isinstance(var, Mapping) and {"itemType", "itemIndex", "serviceId"} <= set(var):
        ref |= {k: str(var[k]) for k in ("itemType", "itemIndex", "serviceId")}
    else:
        raise ValueError(
            f"variable: expected a mapping config such as 'Global|0|140100', a Variable or a "
            f"variable uuid, got {var!r}"
        )
    return ref


def wall_clock(value: Instant, zone: str | None, what: str) -> str:
    """`from`/`to` as the API reads them: a wall-clock time of the effective zone.

    Text and naive datetimes are sent as they are; a date is its midnight; an aware datetime
    is converted to `zone` when the query has one zone (with use_device_local_timezone the
    API reads its wall clock as is)."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None and zone:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    raise ValueError(f"{what}: expected an ISO 8601 text, a datetime or a date, got {value!r}")


def _naive(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (
        moment.replace(tzinfo=None)
        if moment.tzinfo is None
        else moment.astimezone(UTC).replace(tzinfo=None)
    )


def sort_key(at: str) -> str:
    """A key that sorts the API's UTC times ("...05Z", "...05.250Z") in time order."""
    return at if "." in at else at[:-1] + ".000Z" if at.endswith("Z") else at


@dataclass
class Progress:
    """Where a long query or ingestion stands: pages or batches done, points so far, and an
    estimate of the fraction done (None when unknown)."""

    pages: int = 0
    points: int = 0
    fraction: float | None = None
    total_points: int | None = None


class SeriesData:
    """One series of an answer: its description (`device_uuid`, `mapping_config`,
    `aggregation`, `unit`, `device_time_zone`, ...) and its points as two columns, `at`
    (UTC ISO 8601 text, as sent) and `values`. `name` is its column name in exports."""

    def __init__(self, meta: dict[str, Any], name: str) -> None:
        self.meta = {k: v for k, v in meta.items() if k not in ("data", "nextAfter")}
        self.name = name
        self.at: list[str] = []
        self.values: list[float | int | bool | None] = []

    def __getattr__(self, key: str) -> Any:
        camel = "".join(w if i == 0 else w.title() for i, w in enumerate(key.split("_")))
        meta = self.__dict__.get("meta", {})
        if camel in meta:
            return meta[camel]
        raise AttributeError(key)

    def extend(self, data: Sequence[Mapping[str, Any]]) -> None:
        self.at.extend(p["at"] for p in data)
        self.values.extend(p.get("value") for p in data)

    def __len__(self) -> int:
        return len(self.at)

    def points(self) -> Iterator[tuple[datetime, Any]]:
        """(aware UTC datetime, value) pairs."""
        for at, value in zip(self.at, self.values, strict=True):
            yield datetime.fromisoformat(at), value

    def to_json(self) -> dict[str, Any]:
        data = [{"at": a, "value": v} for a, v in zip(self.at, self.values, strict=True)]
        return {**self.meta, "data": data}

    def __repr__(self) -> str:
        return f"<SeriesData {self.name!r}: {len(self)} points>"


class Datapoints:
    """The answer of a datapoints query, every page merged: `series` (a list of
    `SeriesData`), and the query's `frm`, `to`, `timezone`, `use_device_local_timezone`,
    `granularity`. Iterate it for its series; `result["Global|0|140100"]` picks one by name."""

    def __init__(self, head: Mapping[str, Any], series: list[SeriesData], pages: int) -> None:
        self.frm = head.get("from")
        self.to = head.get("to")
        self.timezone = head.get("timezone")
        self.use_device_local_timezone = head.get("useDeviceLocalTimezone")
        self.granularity = head.get("granularity")
        self.series = series
        self.pages = pages

    def __iter__(self) -> Iterator[SeriesData]:
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, key: int | str) -> SeriesData:
        if isinstance(key, int):
            return self.series[key]
        for s in self.series:
            if s.name == key:
                return s
        raise KeyError(key)

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.series)

    @property
    def zone(self) -> str:
        """The zone the index of `to_pandas()` is shown in: the query's zone, or with
        use_device_local_timezone the devices' zone when they share one, else UTC."""
        if not self.use_device_local_timezone:
            return self.timezone or "UTC"
        zones = {s.meta.get("deviceTimeZone") for s in self.series}
        zone = zones.pop() if len(zones) == 1 else None
        return zone if zone is not None else "UTC"

    def to_json(self) -> dict[str, Any]:
        """The API's answer shape, with every point of every page."""
        return {
            "from": self.frm,
            "to": self.to,
            "timezone": self.timezone,
            "useDeviceLocalTimezone": self.use_device_local_timezone,
            "granularity": self.granularity,
            "series": [s.to_json() for s in self.series],
        }

    def wide(self) -> tuple[list[str], dict[str, list[Any]]]:
        """One row per instant (sorted), one column per series (None where a series has
        no point at that instant)."""
        if len(self.series) == 1:
            s = self.series[0]
            return list(s.at), {s.name: list(s.values)}
        keys: dict[str, str] = {}
        for s in self.series:
            for at in s.at:
                keys.setdefault(sort_key(at), at)
        order = sorted(keys)
        row = {k: i for i, k in enumerate(order)}
        columns: dict[str, list[Any]] = {}
        for s in self.series:
            column: list[Any] = [None] * len(order)
            for at, value in zip(s.at, s.values, strict=True):
                column[row[sort_key(at)]] = value
            columns[s.name] = column
        return [keys[k] for k in order], columns

    def to_pandas(self, tz: str | None = None) -> pd.DataFrame:
        """A DataFrame: a timezone-aware DatetimeIndex named "at" (millisecond unit, in
        `tz`, default `self.zone`) and one float column per series. Needs pandas (`open-sodata[pandas]`)."""
        pd = require("pandas", "pandas")
        frame = {}
        for s in self.series:
            index = pd.to_datetime(s.at, utc=True, format="ISO8601").as_unit("ms")
            frame[s.name] = pd.Series(
                [math.nan if v is None else float(v) for v in s.values],
                index=index,
                dtype="float64",
            )
        if frame:
            df = pd.concat(frame, axis=1, sort=True)
        else:
            df = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC").as_unit("ms"))
        df.index = df.index.tz_convert(tz or self.zone)
        df.index.name = "at"
        df.columns.name = None
        return df

    def to_csv(self, target: str | os.PathLike[str] | IO[str] | None = None) -> str | None:
        """CSV with a header `at,<series names>`, one row per instant (UTC, as the API
        writes times); empty cells where a series has no point. Written to `target` (a path
        or a text file), or returned as text. This is also a format `sodata ingest` reads."""
        times, columns = self.wide()
        out: io.StringIO | None = None
        handle: IO[str]
        if target is None:
            handle = out = io.StringIO()
        elif isinstance(target, str | os.PathLike):
            handle = open(target, "w", newline="", encoding="utf-8")  # noqa: SIM115
        else:
            handle = target
        try:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["at", *columns])
            cols = list(columns.values())
            for i, at in enumerate(times):
                writer.writerow([at, *("" if c[i] is None else c[i] for c in cols)])
        finally:
            if isinstance(target, str | os.PathLike):
                handle.close()
        return out.getvalue() if out is not None else None

    def to_arrow(self) -> pa.Table:
        """A pyarrow Table: `at` (timestamp[ms, UTC]) and one float64 column per series; the
        series' descriptions are in the schema's metadata under b"sodata"."""
        pa = require("pyarrow", "parquet")
        times, columns = self.wide()
        arrays = {"at": pa.array(times, pa.string()).cast(pa.timestamp("ms", tz="UTC"))}
        for name, values in columns.items():
            arrays[name] = pa.array([None if v is None else float(v) for v in values], pa.float64())
        meta: dict[str, Any] = {"query": {k: v for k, v in self.to_json().items() if k != "series"}}
        meta["series"] = [{"name": s.name, **s.meta} for s in self.series]
        table = pa.table(arrays)
        return table.replace_schema_metadata({"sodata": json.dumps(meta, default=str)})

    def to_parquet(self, path: str | os.PathLike[str] | IO[bytes]) -> None:
        """A Parquet file of `to_arrow()` (a path, or a binary file object). Needs pyarrow
        (`open-sodata[parquet]`)."""
        require("pyarrow", "parquet")
        import pyarrow.parquet as pq

        where = os.fspath(path) if isinstance(path, os.PathLike) else path
        pq.write_table(self.to_arrow(), where)

    def __repr__(self) -> str:
        return f"<Datapoints {self.granularity} {self.frm} .. {self.to}: {self.series!r}>"


def require(module: str, extra: str) -> ModuleType:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(
            f"this needs {module}: pip install 'open-sodata[{extra}]' (or pip install {module})"
        ) from None


def _labels(specs: Sequence[SeriesSpec], refs: Sequence[dict[str, Any]]) -> list[str]:
    """Column names: the mapping config, with the device when several devices are queried
    and the aggregation when several are; made unique with a #n suffix."""
    devices = {r.get("deviceUuid") for r in refs}
    aggregations = {r.get("aggregation") for r in refs}
    labels: list[str] = []
    for spec, ref in zip(specs, refs, strict=True):
        if spec.name:
            labels.append(spec.name)
            continue
        var = spec.var
        if isinstance(var, Variable):
            label = var.mapping_config
        elif "mappingConfig" in ref:
            label = ref["mappingConfig"]
        elif "itemType" in ref:
            label = f"{ref['itemType']}|{ref['itemIndex']}|{ref['serviceId']}"
        else:
            label = ref["variableUuid"]
        if len(devices) > 1:
            device = spec.device if spec.device is not None else ref.get("deviceUuid")
            shown = device.serial_number if isinstance(device, Device) else ref.get("deviceUuid")
            label = f"{shown} {label}"
        if len(aggregations) > 1 and ref.get("aggregation"):
            label = f"{label} {ref['aggregation']}"
        labels.append(label)
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


class DatapointsQuery:
    """One query, followed page by page: `next_call()` gives the next request (None when
    every series is complete), `accept()` takes its answer, `result()` the merged answer.

    Each series pages on its own: the next request carries only the series that answered a
    `nextAfter`, each with `after` set to it (at most 100 series per request)."""

    def __init__(
        self,
        ca: CaRef,
        specs: Sequence[SeriesSpec],
        frm: Instant,
        to: Instant,
        *,
        granularity: str = "raw",
        aggregation: str | None = None,
        timezone: str = "UTC",
        use_device_local_timezone: bool = False,
        page_size: int | None = None,
    ) -> None:
        if not specs:
            raise ValueError("series: give at least one (a device and a variable)")
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity: one of {', '.join(GRANULARITIES)}")
        if page_size is not None and not 1 <= page_size <= MAX_TAKE:
            raise ValueError(f"page_size: from 1 to {MAX_TAKE}")
        self.path = ca_path(ca) + "/datapoints"
        zone = None if use_device_local_timezone else timezone
        self.head: dict[str, Any] = {
            "from": wall_clock(frm, zone, "frm"),
            "to": wall_clock(to, zone, "to"),
            "timezone": timezone,
            "useDeviceLocalTimezone": use_device_local_timezone,
            "granularity": granularity,
        }
        if page_size is not None:
            self.head["take"] = page_size
        self.refs: list[dict[str, Any]] = []
        for spec in specs:
            ref = variable_ref(spec.device, spec.var)
            agg = spec.aggregation or aggregation
            if granularity != "raw":
                if agg is None:
                    raise ValueError(
                        f"aggregation: required with granularity {granularity!r}; one of "
                        f"{', '.join(AGGREGATIONS)}"
                    )
                if agg not in AGGREGATIONS:
                    raise ValueError(f"aggregation: one of {', '.join(AGGREGATIONS)}")
                ref["aggregation"] = agg
            elif agg is not None:
                raise ValueError("aggregation: not with granularity 'raw' (every point is sent)")
            self.refs.append(ref)
        self.names = _labels(specs, self.refs)
        self.series: list[SeriesData | None] = [None] * len(self.refs)
        self.after: list[str | None] = [None] * len(self.refs)
        self.pending = list(range(len(self.refs)))
        self.in_flight: list[int] = []
        self.progress = Progress()
        self._answer_head: dict[str, Any] = {}
        self.notices: list[str] = []  # the server's Sodata-Notice headers, in order
        start, end = _naive(self.head["from"]), _naive(self.head["to"])
        self._span = (start, end) if start and end and end > start else None

    def next_call(self) -> Call | None:
        if not self.pending:
            return None
        self.in_flight = self.pending[:MAX_SERIES_PER_CALL]
        series = []
        for i in self.in_flight:
            ref = dict(self.refs[i])
            if self.after[i] is not None:
                ref["after"] = self.after[i]
            series.append(ref)
        return Call(
            "PUT",
            self.path,
            json={**self.head, "series": series},
            idempotent=True,
            with_headers=True,
        )

    def accept(self, body: Any, headers: httpx.Headers | None = None) -> None:
        """Take one answer (its body, and its response headers if known)."""
        if headers is not None:
            self.notices += headers.get_list(NOTICE_HEADER)
        answered = body.get("series") if isinstance(body, dict) else None
        if not isinstance(answered, list) or len(answered) != len(self.in_flight):
            raise ValueError("datapoints: the answer does not have one series per series asked")
        self._answer_head = body
        done = set()
        for i, s in zip(self.in_flight, answered, strict=True):
            if self.series[i] is None:
                self.series[i] = SeriesData(s, self.names[i])
            data = s.get("data") or []
            self.series[i].extend(data)  # type: ignore[union-attr]
            self.progress.points += len(data)
            nxt = s.get("nextAfter")
            if nxt is None:
                done.add(i)
            elif nxt == self.after[i]:
                raise ValueError(f"datapoints: the server's paging did not advance at {nxt}")
            else:
                self.after[i] = nxt
        self.pending = [i for i in self.pending if i not in done]
        self.progress.pages += 1
        self.progress.fraction = self._fraction()

    def _fraction(self) -> float | None:
        if not self.pending:
            return 1.0
        if self._span is None:
            return None
        start, end = self._span
        total = (end - start).total_seconds()
        parts = []
        for i in range(len(self.refs)):
            if i not in self.pending:
                parts.append(1.0)
                continue
            after = self.after[i]
            at = _naive(after) if after else None
            parts.append(0.0 if at is None else (at - start).total_seconds() / total)
        return max(0.0, min(1.0, sum(parts) / len(parts)))

    def result(self) -> Datapoints:
        series = [
            s if s is not None else SeriesData({}, n)
            for s, n in zip(self.series, self.names, strict=True)
        ]
        head = {**self.head, **{k: v for k, v in self._answer_head.items() if k != "series"}}
        self.warn_no_data(series)
        return Datapoints(head, series, self.progress.pages)

    def warn_no_data(self, series: Sequence[SeriesData]) -> None:
        """A NoDataWarning per notice of the server; without any, one when no series has a
        point (the caller's code is the warning's place: result <- query <- caller)."""
        texts = list(self.notices)
        if not texts and not any(len(s) for s in series):
            names = ", ".join(s.name for s in series)
            zone = "device time" if self.head["useDeviceLocalTimezone"] else self.head["timezone"]
            frm, to = self.head["from"], self.head["to"]
            texts = [f"no data between {frm} and {to} ({zone}) for {names}"]
        for text in texts:
            warnings.warn(text, NoDataWarning, stacklevel=4)


# --- ingestion -------------------------------------------------------------------------------


def _at_text(at: Any) -> Any:
    if isinstance(at, datetime):
        if at.tzinfo is not None:
            at = at.astimezone(UTC).replace(tzinfo=None)
            return at.isoformat(timespec="milliseconds") + "Z"
        return at.isoformat(timespec="milliseconds")  # the API reads it as UTC
    if isinstance(at, date):
        return f"{at.isoformat()}T00:00:00"
    return at


def _value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else value


@dataclass
class IngestSeries:
    """Points of one variable to send: `ref` names the variable (and, for a gateway's child
    device, `deviceUuid`); `at` and `values` are two columns."""

    ref: dict[str, Any]
    at: list[Any]
    values: list[Any]


def _points(points: Any) -> tuple[list[Any], list[Any]]:
    """(times, values) from pairs, {"at", "value"} dicts or a pandas Series."""
    if hasattr(points, "index") and hasattr(points, "to_numpy") and not isinstance(points, dict):
        ats, values = [], []
        index = points.index
        if getattr(index, "tz", None) is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        for at, value in zip(index, points.to_numpy(), strict=True):
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            ats.append(at.to_pydatetime().isoformat(timespec="milliseconds") + "Z")
            values.append(_value(value))
        return ats, values
    ats, values = [], []
    for p in points:
        if isinstance(p, Mapping):
            ats.append(_at_text(p["at"]))
            values.append(_value(p.get("value")))
        else:
            at, value = p
            ats.append(_at_text(at))
            values.append(_value(value))
    return ats, values


def ingest_series(data: Any) -> list[IngestSeries]:
    """What `ingest()` accepts, as series: a mapping {variable: points} (variable as for
    queries; points as (at, value) pairs, {"at", "value"} dicts or a pandas Series), a
    pandas DataFrame (index: times, one column per variable), or a list of series in the
    API's shape ({"mappingConfig" | "variableUuid" | itemType..., "deviceUuid"?, "data"})."""
    if hasattr(data, "columns") and hasattr(data, "index"):  # a DataFrame
        return [ingest_series({col: data[col]})[0] for col in data.columns]
    out = []
    if isinstance(data, Mapping) and "series" in data and isinstance(data["series"], list):
        data = data["series"]
    if isinstance(data, Mapping):
        for var, points in data.items():
            ats, values = _points(points)
            out.append(IngestSeries(variable_ref(None, var), ats, values))
        return out
    for item in data:
        if isinstance(item, IngestSeries):
            out.append(item)
            continue
        if not isinstance(item, Mapping) or "data" not in item:
            raise ValueError("ingest: each series needs a variable and its data")
        ref = {
            k: item[k]
            for k in (
                "mappingConfig",
                "variableUuid",
                "itemType",
                "itemIndex",
                "serviceId",
                "deviceUuid",
            )
            if item.get(k) is not None
        }
        if "mappingConfig" in ref or "variableUuid" in ref:
            for k in ("itemType", "itemIndex", "serviceId"):
                ref.pop(k, None)
        ats, values = _points(item["data"])
        out.append(IngestSeries(ref, ats, values))
    return out


@dataclass
class IngestJob:
    """Ingestion split into calls of at most `batch_size` points and 100 series; the answers
    are merged with rejections indexed by the series and point given to `ingest()`."""

    ca: CaRef
    device: DeviceRef
    series: list[IngestSeries]
    batch_size: int = 50_000
    result: IngestResult = field(default_factory=IngestResult)
    progress: Progress = field(default_factory=Progress)

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_POINTS_PER_CALL:
            raise ValueError(f"batch_size: from 1 to {MAX_POINTS_PER_CALL}")
        self.path = f"{ca_path(self.ca)}/devices/{uuid_of(self.device, 'device')}/datapoints"
        self.progress.total_points = sum(len(s.at) for s in self.series)

    def batches(self) -> Iterator[tuple[Call, list[tuple[int, int]], int]]:
        """(call, [(series index, first point index) per series of the call], points)."""
        body: list[dict[str, Any]] = []
        origin: list[tuple[int, int]] = []
        size = 0
        for index, s in enumerate(self.series):
            start = 0
            while start < len(s.at):
                room = self.batch_size - size
                end = min(len(s.at), start + room)
                data = [
                    {"at": a, "value": v}
                    for a, v in zip(s.at[start:end], s.values[start:end], strict=True)
                ]
                body.append({**s.ref, "data": data})
                origin.append((index, start))
                size += end - start
                start = end
                if size >= self.batch_size or len(body) >= MAX_SERIES_PER_CALL:
                    yield self._call(body), origin, size
                    body, origin, size = [], [], 0
        if body:
            yield self._call(body), origin, size

    def _call(self, series: list[dict[str, Any]]) -> Call:
        return Call("POST", self.path, json={"series": series}, idempotent=True)

    def accept(self, body: Any, origin: list[tuple[int, int]], points: int) -> None:
        answer = IngestResult.model_validate(body)
        self.result.accepted += answer.accepted
        self.result.rejected += answer.rejected
        for error in answer.errors:
            index, first = origin[error.series]
            point = None if error.point is None else first + error.point
            self.result.errors.append(
                Rejection(series=index, point=point, at=error.at, reason=error.reason)
            )
        self.progress.pages += 1
        self.progress.points += points
        total = self.progress.total_points or 0
        self.progress.fraction = self.progress.points / total if total else 1.0


ProgressCallback = Callable[[Progress], None]


def specs_for(
    device: DeviceRef | None,
    var: VariableSpec | list[VariableSpec] | tuple[VariableSpec, ...] | None,
    series: Iterable[SeriesLike] | None,
) -> list[SeriesSpec]:
    """The series of a query: `series` (SeriesSpec objects or (device, var[, aggregation])
    tuples), else `device` with `var` (one variable or a list of them)."""
    if series is not None:
        out = []
        for s in series:
            out.append(s if isinstance(s, SeriesSpec) else SeriesSpec(*s))
        return out
    if var is None:
        raise ValueError("variable: give var (e.g. 'Global|0|140100') or series=[...]")
    variables = var if isinstance(var, list | tuple) else [var]
    return [SeriesSpec(device, v) for v in variables]
