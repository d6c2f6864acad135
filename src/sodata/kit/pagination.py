"""take/skip paging and the {"total", "results", "take"} envelope of the spec (4.1)."""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Integer, Select, bindparam, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

DEFAULT_TAKE = 50
MAX_TAKE = 1000
MAX_SKIP = 2_147_483_647  # far past any list, and an OFFSET every database accepts


class Page(BaseModel, Generic[T]):
    total: int
    results: list[T]
    take: int


@dataclass(frozen=True)
class Paging:
    take: int
    skip: int


async def _paging(  # async: no I/O, so no trip through the thread pool
    take: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_TAKE,
            description=f"Number of elements to be requested (0 to {MAX_TAKE}; 0 returns only the total)",
        ),
    ] = DEFAULT_TAKE,
    skip: Annotated[
        int, Query(ge=0, le=MAX_SKIP, description=f"Offset of elements to start (0 to {MAX_SKIP})")
    ] = 0,
) -> Paging:
    return Paging(take=take, skip=skip)


PagingDep = Annotated[Paging, Depends(_paging)]


_DERIVED: weakref.WeakKeyDictionary[Select, tuple[Select, Select]] = weakref.WeakKeyDictionary()


def _derived(stmt: Select) -> tuple[Select, Select]:
    """The count and page statements of `stmt`, derived once per statement object: a listing
    built once per shape (bind parameters for its values) is never built nor keyed again."""
    found = _DERIVED.get(stmt)
    if found is None:
        counted = select(func.count()).select_from(stmt.order_by(None).subquery())
        paged = stmt.limit(bindparam("_take", type_=Integer)).offset(
            bindparam("_skip", type_=Integer)
        )
        found = _DERIVED[stmt] = (counted, paged)
    return found


def count(session: Session, stmt: Select, params: Mapping[str, Any] | None = None) -> int:
    return session.scalar(_derived(stmt)[0], params) or 0


def paginate(
    session: Session, stmt: Select, paging: Paging, params: Mapping[str, Any] | None = None
) -> tuple[int, list]:
    """Total of the filtered query and one page of its rows (`params`: its bind parameters)."""
    total = count(session, stmt, params)
    if paging.take == 0:
        return total, []
    page = {**(params or {}), "_take": paging.take, "_skip": paging.skip}
    rows = session.execute(_derived(stmt)[1], page).all()
    return total, [r[0] if len(r) == 1 else r for r in rows]
