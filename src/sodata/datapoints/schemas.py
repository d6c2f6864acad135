"""Datapoints on the wire: the query of spec 5.8.3 / 7.1 and sodata's ingestion batches."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool

from sodata.kit.schemas import CamelModel, WriteModel
from sodata.kit.types import Str32, Str64, Str255, WholeNumberAsText

MAX_TAKE = 100_000  # points or buckets per series per answer
MAX_SERIES = 100  # series per query or per ingestion call
MAX_POINTS = 100_000  # points per ingestion call
MAX_INGEST_BYTES = 32 * 1024 * 1024
# a response header of PUT /datapoints, one per series whose range holds no point
NOTICE_HEADER = "Sodata-Notice"

Granularity = Literal["raw", "minute", "hour", "day", "week", "month", "year"]
# the spec's seven, then sodata's for counters and values sent on change
Aggregation = Literal[
    "avg", "min", "max", "count", "sum", "var", "stdev", "first", "last", "delta", "twa"
]
# the spec sends itemIndex and serviceId as strings ("0", "140100"); whole numbers are taken too
NumericName = Annotated[Str32, WholeNumberAsText]


class VariableRef(WriteModel):
    """Names one variable of a device: by its item, index and service (as in the spec), by its
    mapping config ("Global|0|140100") or by its uuid."""

    item_type: Str64 | None = Field(None, examples=["Global"])
    item_index: NumericName | None = Field(None, examples=["0"])
    service_id: NumericName | None = Field(None, examples=["140100"])
    mapping_config: Str255 | None = Field(
        None, description="Item|Index|Service, instead of the three fields", examples=[None]
    )
    variable_uuid: uuid.UUID | None = Field(None, description="Instead of the three fields")


class SeriesQuery(VariableRef):
    device_uuid: uuid.UUID | None = Field(
        None, description="The device; optional when variableUuid names the variable"
    )
    aggregation: Aggregation | None = Field(
        None,
        description="How each bucket's points are combined (not with raw granularity): avg, "
        "min, max, count, sum, var (sample variance, n-1), stdev (sample standard deviation), "
        "first, last (the value of the bucket's first and last point), delta (the increase of "
        "a cumulative counter) or twa (the time-weighted average); see the operation's "
        "description",
    )
    after: Str64 | None = Field(
        None, description="Paging: the series' nextAfter of the previous answer", examples=[None]
    )


class DatapointsQuery(WriteModel):
    from_: Str64 = Field(
        alias="from",
        description="Start, inclusive, ISO 8601. Its wall-clock time is read in the effective "
        "zone (the device's with useDeviceLocalTimezone, else timezone)",
        examples=["2022-05-18T00:00:00Z"],
    )
    to: Str64 = Field(description="End, exclusive, ISO 8601", examples=["2022-05-19T00:00:00Z"])
    timezone: Str64 = Field(
        "UTC", description="IANA zone of from, to and the buckets", examples=["UTC"]
    )
    use_device_local_timezone: StrictBool = Field(
        False, description="Use each device's own zone instead of timezone"
    )
    granularity: Granularity = Field(
        description="raw (every point) or the calendar bucket: minute, hour, day, week "
        "(from Monday), month, year"
    )
    take: int = Field(
        MAX_TAKE, ge=1, le=MAX_TAKE, description="At most this many points or buckets per series"
    )
    series: list[SeriesQuery] = Field(min_length=1, max_length=MAX_SERIES)


class DataPoint(BaseModel):
    at: str = Field(examples=["2022-05-18T00:05:05Z"])
    value: float | None = Field(examples=[4])


class SeriesData(CamelModel):
    item_type: str
    item_index: str
    service_id: str
    device_uuid: uuid.UUID
    variable_uuid: uuid.UUID
    mapping_config: str
    aggregation: Aggregation | None = Field(None, description="Absent with raw granularity")
    data_type: str = Field(examples=["number"])
    device_time_zone: str = Field(examples=["Europe/Paris"])
    unit: str | None
    data: list[DataPoint]
    next_after: str | None = Field(
        description="null when every point is in; otherwise send the query again with this "
        "series' after set to it"
    )


class DatapointsAnswer(CamelModel):
    from_: str = Field(alias="from")
    to: str
    timezone: str
    use_device_local_timezone: bool
    granularity: str
    series: list[SeriesData]


class PointIn(BaseModel):
    at: str = Field(
        description="ISO 8601; UTC when it has no offset", examples=["2022-05-18T00:05:05Z"]
    )
    value: Any = Field(description="A number (true/false for boolean variables)", examples=[4.5])


class SeriesIn(VariableRef):
    device_uuid: uuid.UUID | None = Field(
        None, description="A child device of the gateway in the path (default: that device)"
    )
    data: list[PointIn]


class IngestBody(BaseModel):
    series: list[SeriesIn] = Field(max_length=MAX_SERIES)


class Rejection(BaseModel):
    series: int = Field(description="Index of the series in the request")
    point: int | None = Field(description="Index of the point in its series; null: all of them")
    at: Any = Field(None, description="The point's time as sent")
    reason: str


class IngestAnswer(BaseModel):
    accepted: int = Field(description="Points stored (durably: the answer comes after commit)")
    rejected: int
    errors: list[Rejection]
