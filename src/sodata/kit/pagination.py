"""take/skip paging and the {"total", "results", "take"} envelope of the spec (4.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
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


def count(session: Session, stmt: Select) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def paginate(session: Session, stmt: Select, paging: Paging) -> tuple[int, list]:
    """Total of the filtered query and one page of its rows."""
    total = count(session, stmt)
    if paging.take == 0:
        return total, []
    rows = session.execute(stmt.limit(paging.take).offset(paging.skip)).all()
    return total, [r[0] if len(r) == 1 else r for r in rows]
