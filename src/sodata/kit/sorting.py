"""sortBy: a field name of the wire schema, "-" in front for descending order.

Each resource declares which fields may sort; anything else is a 400 naming them.
Ties are broken by the primary key so that paging is stable.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy import Select
from sqlalchemy.sql.elements import ColumnElement

from sodata.kit.errors import BadRequest

SortByQuery = Annotated[
    str | None,
    Query(
        alias="sortBy",
        description='Field name used to sort the result; prefix with "-" for descending order, e.g. "-name"',
    ),
]


def apply_sort(
    stmt: Select,
    sort_by: str | None,
    fields: dict[str, ColumnElement],
    tiebreak: ColumnElement,
    default: str = "name",
) -> Select:
    spec = (sort_by or default).strip()
    descending = spec.startswith("-")
    name = spec.lstrip("-+")
    if ":" in name:  # also accept "name:desc" / "name:asc"
        name, _, direction = name.partition(":")
        descending = direction.lower() == "desc"
    column = fields.get(name)
    if column is None:
        allowed = ", ".join(sorted(fields))
        raise BadRequest(
            f"sortBy: unknown field {name!r}; use one of {allowed} (prefix with - to sort descending)"
        )
    return stmt.order_by(column.desc() if descending else column.asc(), tiebreak.asc())
