"""Rate limit counters (sodata/kit/ratelimit.py): how many requests of one kind and origin each
window has seen, shared by every server process on the database."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import BigInteger, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from sodata.kit.db import Base


class RateLimitCount(Base):
    """One key's count in one window. The window first in the key: old windows are deleted by a
    range of it. Never read by the ORM: the limiter upserts and reads it with single statements."""

    __tablename__ = "rate_limit_counts"
    __table_args__ = {"sqlite_with_rowid": False}
    if TYPE_CHECKING:  # the limiter's statements take it: a Table, not any FROM clause
        __table__: ClassVar[Table]

    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    key: Mapped[str] = mapped_column(String(255), primary_key=True)  # e.g. token-address:10.1.2.3
    count: Mapped[int]
