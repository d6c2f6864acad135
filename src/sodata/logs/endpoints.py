from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from sodata.access.scope import ReadableCa
from sodata.kit.db import MAX_FILTER_LENGTH
from sodata.kit.errors import BadRequest
from sodata.kit.lookup import public
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.logs import service
from sodata.logs.schemas import LogPublic
from sodata.models import CorporateAccount, LogEntry

router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}/logs", tags=["Logs"]
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS, default="-createdAt")]

LogUuid = Annotated[uuid.UUID, Path(alias="logUuid", description="UUID of the log entry")]


def parse_instant(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 instant; without an offset it is taken as UTC."""
    if value is None or not value.strip():
        return None
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(
            f"{field}: {value!r} is not an ISO 8601 instant; use e.g. 2024-05-01T08:00:00Z"
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(UTC)
    except (ValueError, OverflowError):  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
        raise BadRequest(
            f"{field}: {value!r} is out of range; use an instant between years 0001 and 9999 in UTC"
        ) from None


def to_public(ca: CorporateAccount, entry: LogEntry) -> LogPublic:
    return public(LogPublic, entry, corporate_account_uuid=ca.uuid)


@router.get("", summary="Get the pagination for logs", response_model=Page[LogPublic])
def list_logs(
    session: SessionDep,
    ca: ReadableCa,
    paging: PagingDep,
    sort_by: SortBy = None,
    since: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=MAX_FILTER_LENGTH,
            description="ISO 8601 instant; only entries at or after it",
        ),
    ] = None,
    until: Annotated[
        str | None,
        Query(
            alias="to",
            max_length=MAX_FILTER_LENGTH,
            description="ISO 8601 instant; only entries before it",
        ),
    ] = None,
    action: Annotated[
        str | None, Query(max_length=MAX_FILTER_LENGTH, description="e.g. DEVICE_CREATED")
    ] = None,
    level: Annotated[
        str | None, Query(max_length=MAX_FILTER_LENGTH, description="INFO, WARNING or ERROR")
    ] = None,
    object_type: Annotated[
        str | None,
        Query(alias="objectType", max_length=MAX_FILTER_LENGTH, description="e.g. Device"),
    ] = None,
    object_uuid: Annotated[
        uuid.UUID | None,
        Query(alias="objectUuid", description="UUID of the object the entry is about"),
    ] = None,
    user_email: Annotated[
        str | None,
        Query(alias="userEmail", max_length=MAX_FILTER_LENGTH, description="Who made the change"),
    ] = None,
    search: Annotated[
        str | None, Query(max_length=MAX_FILTER_LENGTH, description="Text the message contains")
    ] = None,
) -> Response:
    start, end = parse_instant(since, "from"), parse_instant(until, "to")
    if start is not None and end is not None and end <= start:
        raise BadRequest("to: must be later than from")
    stmt = service.query(
        ca.id,
        since=start,
        until=end,
        action=action,
        level=level,
        object_type=object_type,
        object_uuid=object_uuid,
        user_email=user_email,
        search=search,
        sort_by=sort_by,
    )
    total, rows = paginate(session, stmt, paging)
    results = [to_public(ca, entry) for entry in rows]
    return json_response(Page[LogPublic](total=total, results=results, take=paging.take))


@router.get("/{logUuid}", summary="Get log by UUID", response_model=LogPublic)
def get_log(session: SessionDep, ca: ReadableCa, log_uuid: LogUuid) -> Response:
    return json_response(to_public(ca, service.get(session, ca.id, log_uuid)))
