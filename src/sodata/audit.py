"""Writing the corporate account's event log (read through `logs`): what every service and
the sign-in record, and the ending every partial update shares (`apply_update`).

It sits below identity and access: the caller is any object with the principal's `email` and
`client_id` (`Actor`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from sodata.models import LogEntry


class Actor(Protocol):
    """Who acted (an `access.Principal`): a user, or an API client through its service
    account."""

    @property
    def email(self) -> str | None: ...

    @property
    def client_id(self) -> str | None: ...


def record(
    session: Session,
    ca_id: int,
    action: str,
    message: str,
    *,
    principal: Actor | None = None,
    obj: Any = None,
    object_type: str | None = None,
    level: str = "INFO",
    details: dict[str, Any] | None = None,
) -> LogEntry:
    """Add an event to the log of corporate account `ca_id`. Never pass secrets in details."""
    entry = LogEntry(
        corporate_account_id=ca_id,
        action=action,
        message=message,
        level=level,
        object_type=object_type or (type(obj).__name__ if obj is not None else None),
        object_uuid=getattr(obj, "uuid", None),
        object_name=getattr(obj, "name", None),
        user_email=_actor(principal),
        details=details,
    )
    session.add(entry)
    return entry


def _actor(principal: Actor | None) -> str | None:
    """Who acted: the user's email, or "client:<clientId>" for an API client, so that a
    client's changes are traced to it (cut to the column's 255 characters)."""
    if principal is None:
        return None
    if principal.email is None and principal.client_id is not None:
        return f"client:{principal.client_id}"[:255]
    return principal.email


def apply_update(
    session: Session,
    principal: Actor,
    ca_id: int,
    obj: Any,
    changes: Mapping[str, Any],
    *,
    action: str,
    message: Callable[[], str],
    apply: Callable[[], None] | None = None,
    attributes: Mapping[str, str] | None = None,
) -> list[str]:
    """A partial update of `obj`, logged only when it changes something: `changes` set (by
    `apply()`, or field by field), then flushed, then one `action` entry saying
    `message()` (read after the change) and naming the changed fields. An object with an
    `updated_at` column gets the time of a real change. Returns the changed fields."""
    changed = apply_changes(session, obj, changes, apply=apply, attributes=attributes)
    if changed and hasattr(obj, "updated_at"):
        obj.updated_at = datetime.now(UTC)
    session.flush()
    if changed:
        details = {"fields": changed}
        record(session, ca_id, action, message(), principal=principal, obj=obj, details=details)
    return changed


def apply_changes(
    session: Session,
    obj: Any,
    changes: Mapping[str, Any],
    *,
    apply: Callable[[], None] | None = None,
    attributes: Mapping[str, str] | None = None,
) -> list[str]:
    """Set `changes` on `obj` (by `apply()`, or field by field) without a flush, and return
    the fields that really changed (`changed_fields`)."""
    with session.no_autoflush:
        if apply is None:
            for key, value in changes.items():
                setattr(obj, key, value)
        else:
            apply()
        return changed_fields(session, obj, changes, attributes)


def changed_fields(
    session: Session, obj: object, sent: Iterable[str], attributes: Mapping[str, str] | None = None
) -> list[str]:
    """The sent fields that really change `obj` before it is flushed: a column given a new
    value, a relationship pointing elsewhere, or a nested row (address, contact) created or
    edited. `attributes` maps a field to the attribute it sets (customer_uuid -> customer)."""
    state = inspect(obj)
    changed = []
    for name in sent:
        key = (attributes or {}).get(name, name)
        if state.attrs[key].history.has_changes():
            changed.append(name)
            continue
        nested = getattr(obj, key)
        if nested is not None and hasattr(nested, "__mapper__"):
            nested_state = inspect(nested)
            if nested_state.pending or nested_state.transient or session.is_modified(nested):
                changed.append(name)
    return sorted(changed)
