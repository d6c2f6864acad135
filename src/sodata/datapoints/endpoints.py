"""Datapoints: the history of variables (spec 5.8), and sending points in (sodata's own)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa, WritableCa
from sodata.datapoints import service
from sodata.datapoints.schemas import (
    MAX_POINTS,
    MAX_TAKE,
    NOTICE_HEADER,
    DatapointsAnswer,
    DatapointsQuery,
    IngestAnswer,
    IngestBody,
)
from sodata.kit import metrics
from sodata.kit.admission import RawBody
from sodata.kit.handlers import body_schema
from sodata.kit.responses import json_body
from sodata.kit.sessions import SessionDep, SessionRoute

router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}", tags=["Data Points"]
)

DeviceUuid = Annotated[uuid.UUID, Path(alias="deviceUuid", description="UUID of the device")]


@router.put(
    "/datapoints",
    summary="Find device streams",
    response_model=DatapointsAnswer,
    description=f"""Find the data streams for a given device, corresponding to the filters.

- **from** (inclusive) and **to** (exclusive) are ISO 8601 date-times whose wall-clock time is
  read in the effective zone: each device's own zone when `useDeviceLocalTimezone` is true
  (so `2021-09-20T07:47:26.724Z` for a Europe/Paris device starts at 05:47:26.724Z), else
  `timezone` (an IANA zone, default UTC). A trailing `Z` or offset is ignored. A wall-clock
  time shown twice (end of summer time) is its first occurrence; one skipped is read with the
  offset in force before the change.
- **granularity** `raw` answers every point (no aggregation). `minute`, `hour`, `day`, `week`
  (from Monday), `month` and `year` are calendar buckets of the effective zone: a day runs
  from local midnight to local midnight (23 h or 25 h on DST days). Each bucket is reported by
  its start instant; buckets without points are left out; the first and last buckets hold
  only the points between from and to.
- **aggregation** (required unless raw): `avg`, `min`, `max`, `count`, `sum`, `var` (sample
  variance, n-1) or `stdev` (sample standard deviation); var and stdev are null for a
  bucket of one point. Beyond the spec, for meters and values sent on change:
  - `first`, `last`: the value of the bucket's earliest and latest point.
  - `delta`: the increase of a cumulative counter (an energy index). Each point adds its
    increase over the series' point before it (at any distance, also before `from`), so that
    consecutive buckets add up exactly to the increase over the period; nothing is
    extrapolated. A decrease larger than the variable's `counterResetThreshold` (default 0) is
    a counter reset: the point adds its own value (the counter restarted from zero); a smaller
    decrease is noise and counts negative.
  - `twa`: the time-weighted average. Each value holds until the series' next point, at most
    the variable's `maxCarrySeconds` (default 3 x `pollingTime`, or a day with
    `sendOnUpdate`; the last point holds that long). A bucket's twa is the integral of the
    held value over the part of the bucket inside from and to, divided by the time some
    value holds in it; a value held from before the bucket counts.
  - As for the others, only buckets holding points are answered.
- Times in the answer are UTC with `Z`.
- **Paging:** at most `take` (default and maximum {MAX_TAKE:,}) points or buckets per series.
  A series with more answers `nextAfter`; send the same query again with that series'
  `after` set to it for the next page. `nextAfter` null: the series is complete.
- A series names its variable by itemType, itemIndex and serviceId, by `mappingConfig`
  ("Global|0|140100") or by `variableUuid`. A device whose data the caller may not read
  answers 404.
- **No data:** a series whose range holds no point at all (its first page, without `after`)
  adds a `{NOTICE_HEADER}` response header (one per such series, ASCII) naming the range and
  the span of the data the variable has, or saying it has none; the JSON body is unchanged.""",
)
def find_device_streams(
    session: SessionDep, principal: PrincipalDep, ca: ReadableCa, body: DatapointsQuery
) -> Response:
    notices: list[str] = []
    response = json_body(service.run_query(session, principal, ca, body, notices))
    for notice in notices:
        response.headers.append(NOTICE_HEADER, notice)
    return response


@router.post(
    "/devices/{deviceUuid}/datapoints",
    summary="Send data points",
    response_model=IngestAnswer,
    openapi_extra=body_schema(IngestBody),
    description=f"""Store points of the device's variables (or, for a gateway, of its child
devices: set `deviceUuid` on their series). At most {MAX_POINTS:,} points per call.

- A series names its variable by `mappingConfig` ("Global|0|140100"), by `variableUuid` or by
  itemType, itemIndex and serviceId; its `data` holds `{{"at", "value"}}` points, as in the
  answer of PUT /datapoints. `at` is ISO 8601 (UTC when it has no offset).
- A point sent again for the same variable and time replaces the stored one.
- The answer comes once the points are durably stored. It counts the points accepted and
  rejected, and says why each was rejected: an unknown variable, a value that is not a number,
  a time more than an hour ahead of the server's clock, a time older than the server keeps raw
  points (SODATA_RAW_RETENTION_DAYS, when set), a device not activated.
- Needs the manager role and the device's data; an API client bound to a gateway sends for
  that gateway and its child devices.""",
)
def send_datapoints(
    request: Request,
    body: RawBody,
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
) -> Response:
    series = service.parse_ingest(service.decode_body(body))  # at most MAX_INGEST_BYTES: else 413
    retention_days = request.app.state.settings.raw_retention_days
    answer = service.ingest(session, principal, ca, device_uuid, series, retention_days)
    metrics.count_points("http", answer["accepted"], answer["rejected"])
    return json_body(answer)
