from __future__ import annotations

import uuid
from typing import Any

from sodata.kit.schemas import CamelModel


class ServicePublic(CamelModel):
    uuid: uuid.UUID
    service_id: str
    name: str
    type: str
    group: str
    unit: str | None
    unit_symbol: str | None
    data_type: str
    severity_name: str | None
    severity_level: int | None
    translations: dict[str, Any]


class ProfileEntryPublic(CamelModel):
    item_type: str
    item_index: str
    service_id: str
    service_name: str
    polling_time: int
    send_on_update: bool
    is_computed: bool
    mapping_config: str


class DeviceTypePublic(CamelModel):
    uuid: uuid.UUID
    reference_id: str
    name: str
    model_name: str
    manufacturer: str
    is_gateway: bool
    configuration_key: str | None
    profile: list[ProfileEntryPublic]
