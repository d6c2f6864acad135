"""The corporate account's event log: who did what to which object, never a secret."""

from __future__ import annotations

import uuid as uuid_module
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from sodata.kit.db import Base
from sodata.models._columns import IntPk, PublicUuid, utcnow


class LogEntry(Base):
    __tablename__ = "logs"
    __table_args__ = (Index("ix_logs_ca_created", "corporate_account_id", "created_at"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    corporate_account_id: Mapped[int] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    level: Mapped[str] = mapped_column(String(8), default="INFO")  # INFO | WARNING | ERROR
    action: Mapped[str] = mapped_column(String(64), index=True)  # DEVICE_CREATED, ...
    object_type: Mapped[str | None] = mapped_column(String(32), default=None)
    object_uuid: Mapped[uuid_module.UUID | None] = mapped_column(Uuid, default=None, index=True)
    object_name: Mapped[str | None] = mapped_column(String(255), default=None)
    user_uuid: Mapped[uuid_module.UUID | None] = mapped_column(Uuid, default=None)
    user_email: Mapped[str | None] = mapped_column(String(255), default=None)
    message: Mapped[str] = mapped_column(String(1000))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
