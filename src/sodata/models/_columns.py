from __future__ import annotations

import uuid as uuid_module
from datetime import UTC, datetime
from typing import Annotated

from sqlalchemy import DateTime, String, Uuid
from sqlalchemy.orm import mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


IntPk = Annotated[int, mapped_column(primary_key=True, autoincrement=True)]
PublicUuid = Annotated[
    uuid_module.UUID, mapped_column(Uuid, unique=True, index=True, default=uuid_module.uuid4)
]
Created = Annotated[datetime, mapped_column(DateTime(timezone=True), default=utcnow)]
Str = Annotated[str, mapped_column(String(255))]
OptStr = Annotated[str | None, mapped_column(String(255), default=None)]
OptText = Annotated[str | None, mapped_column(String(4000), default=None)]
