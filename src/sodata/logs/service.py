"""Reading the corporate account's event log (written by `sodata.audit.record`)."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sodata.kit.errors import BadRequest
from sodata.kit.lookup import get_in_ca
from sodata.kit.sorting import apply_sort
from sodata.models import LogEntry

LEVELS = ("INFO", "WARNING", "ERROR")
SORT_FIELDS = {"createdAt": LogEntry.created_at, "action": LogEntry.action, "level": LogEntry.level}


def query(
    ca_id: int,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    level: str | None = None,
    object_type: str | None = None,
    object_uuid: uuid_module.UUID | None = None,
    user_email: str | None = None,
    search: str | None = None,
    sort_by: str | None = None,
) -> Select:
    """The account's entries matching every given filter, newest first unless `sort_by` says
    otherwise; `since` is inclusive, `until` exclusive."""
    stmt = select(LogEntry).where(LogEntry.corporate_account_id == ca_id)
    if since is not None:
        stmt = stmt.where(LogEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(LogEntry.created_at < until)
    if action:
        stmt = stmt.where(LogEntry.action == action)
    if level:
        if level.upper() not in LEVELS:
            raise BadRequest(f"level: unknown level {level!r}; use one of {', '.join(LEVELS)}")
        stmt = stmt.where(LogEntry.level == level.upper())
    if object_type:
        stmt = stmt.where(LogEntry.object_type == object_type)
    if object_uuid:
        stmt = stmt.where(LogEntry.object_uuid == object_uuid)
    if user_email:
        stmt = stmt.where(LogEntry.user_email == user_email)
    if search:
        stmt = stmt.where(LogEntry.message.icontains(search, autoescape=True))
    return apply_sort(stmt, sort_by, SORT_FIELDS, LogEntry.id, default="-createdAt")


def get(session: Session, ca_id: int, log_uuid: uuid_module.UUID) -> LogEntry:
    return get_in_ca(session, LogEntry, ca_id, log_uuid, "Log")
