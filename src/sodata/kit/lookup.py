"""What every resource service does the same way: find an object of the caller's account by
uuid, keep names unique, search lists by name, copy a row into its wire model."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Protocol, TypeVar

from fastapi import Query
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy import BindParameter, ColumnElement, inspect, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.orm.interfaces import ORMOption

from sodata.kit.db import MAX_FILTER_LENGTH
from sodata.kit.errors import BadRequest, Conflict, not_found

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class HasId(Protocol):
    """A row with an integer primary key (a corporate account)."""

    id: int


def get_in_ca(
    session: Session,
    model: type[T],
    ca: HasId | int,
    object_uuid: uuid.UUID,
    kind: str,
    field: str | None = None,
    options: Sequence[ORMOption] = (),
) -> T:
    """The `model` row of account `ca` (or of the account with that id) with this uuid.

    Unknown or in another account: a 404 "<kind> <uuid> not found", or, when `field` names
    where the uuid came from (a request body, a filter), a 400 naming that field."""
    ca_id = ca if isinstance(ca, int) else ca.id
    columns: Any = model  # any mapped class with these two columns
    found = session.scalar(
        select(model)
        .where(columns.corporate_account_id == ca_id, columns.uuid == object_uuid)
        .options(*options)
    )
    if found is None:
        if field:
            raise BadRequest(f"{field}: no {kind.lower()} {object_uuid} in this corporate account")
        raise not_found(kind, object_uuid)
    return found


def ensure_unique(
    session: Session,
    column: InstrumentedAttribute[Any],
    value: object,
    scope: Iterable[ColumnElement[bool]],
    exclude_id: int | None,
    message: str,
) -> None:
    """A 409 with `message` when another row in `scope` already has `value` in `column`."""
    entity = column.class_
    stmt = select(entity.id).where(column == value, *scope)
    if exclude_id is not None:
        stmt = stmt.where(entity.id != exclude_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise Conflict(message)


def by_uuid_or_name(model: Any, text: str) -> ColumnElement[bool]:
    """The condition "the row named so", by uuid when `text` is one, else by name."""
    try:
        return model.uuid == uuid.UUID(text)
    except ValueError:
        return model.name == text


LIKE_ESCAPE = "/"


def like_literal(text: str) -> str:
    """`text` as a LIKE pattern that matches it literally: its % and _ (and the escape
    character) escaped with LIKE_ESCAPE."""
    for char in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, LIKE_ESCAPE + char)
    return text


def name_param(what: str) -> FieldInfo:
    """The `name` query parameter of a list: `what` says what it keeps, e.g. "the sites
    whose name contains this text" (applied with `contains_text`):
    `NameFilter = Annotated[str | None, name_param("...")]`."""
    param: FieldInfo = Query(max_length=MAX_FILTER_LENGTH, description=f"Only {what}")
    return param


def contains_text(
    text: str | BindParameter[str], *columns: InstrumentedAttribute[Any]
) -> ColumnElement[bool]:
    """True when one of `columns` contains `text`, whatever its case (ILIKE on PostgreSQL;
    lower() on both sides on SQLite, so there for ASCII letters only). The % and _ of a string
    are taken literally; a bind parameter's value must be escaped by `like_literal` first (a
    listing built once per shape takes its filter's text as a bind parameter)."""
    pattern = like_literal(text) if isinstance(text, str) else text
    return or_(*(column.icontains(pattern, escape=LIKE_ESCAPE) for column in columns))


@cache
def _copied(model: type[BaseModel], orm_class: type[Any]) -> tuple[str, ...]:
    columns = set(inspect(orm_class).column_attrs.keys())
    return tuple(f for f in model.model_fields if f in columns)


def public(model: type[M], obj: object, **extra: Any) -> M:
    """The wire model of an ORM row: its columns of the same name as the model's fields, then
    `extra`. Relationships are never read here, so building an answer loads nothing unasked."""
    orm_class: type = type(obj)
    data = {f: getattr(obj, f) for f in _copied(model, orm_class) if f not in extra}
    return model.model_validate({**data, **extra})
