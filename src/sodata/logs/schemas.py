from __future__ import annotations

from typing import Any
from uuid import UUID

from sodata.kit.schemas import CamelModel, Timestamp


class LogPublic(CamelModel):
    uuid: UUID
    created_at: Timestamp
    level: str
    action: str
    object_type: str | None
    object_uuid: UUID | None
    object_name: str | None
    user_uuid: UUID | None
    user_email: str | None
    message: str
    details: dict[str, Any] | None
    corporate_account_uuid: UUID
