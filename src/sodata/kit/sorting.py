"""sortBy: a field name of the wire schema, "-" in front for descending order.

Each resource declares which fields may sort; anything else is a 400 naming them.
Ties are broken by the primary key so that paging is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import Query
from pydantic.fields import FieldInfo
from sqlalchemy import Select
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from sodata.kit.db import MAX_FILTER_LENGTH
from sodata.kit.errors import BadRequest
from sodata.kit.types import Listed

SortColumn = ColumnElement[Any] | QueryableAttribute[Any]
"""What a list sorts by: a column of a model or an expression."""


def sort_forms(field: str) -> list[str]:
    """The spellings of a sort by `field` that `apply_sort` takes, as the schema lists them."""
    return [field, f"-{field}", f"{field}:asc", f"{field}:desc"]


def sort_by_param(fields: Iterable[str], default: str | None = "name") -> FieldInfo:
    """The `sortBy` query parameter of a list, documenting the fields it accepts:
    `SortBy = Annotated[str | None, sort_by_param(SORT_FIELDS)]`."""
    names = sorted(fields)
    example = (default or names[0]).lstrip("-")
    order = f'default "{default}"' if default else "default: the list's natural order"
    param: FieldInfo = Query(
        alias="sortBy",
        max_length=MAX_FILTER_LENGTH,
        description=f"Field name used to sort the result, one of: {', '.join(names)}; "
        f'prefix with "-" (or append ":desc") for descending order, e.g. "-{example}" '
        f"({order})",
        examples=[example, f"-{example}"],
    )
    param.metadata.append(Listed(form for name in names for form in sort_forms(name)))
    return param


def apply_sort(
    stmt: Select,
    sort_by: str | None,
    fields: Mapping[str, SortColumn],
    tiebreak: SortColumn,
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
