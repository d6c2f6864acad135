from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from sodata.catalog.data import UNITS
from sodata.items.schemas import ItemIndex, ItemType
from sodata.kit.schemas import CamelModel, WriteModel
from sodata.kit.types import JsonObject, NoNul, Str255, WholeNumberAsText
from sodata.models.devices import CARRY_ON_UPDATE_SECONDS

ServiceType = Literal["Measure", "Alarm", "Status"]

# the spec writes serviceIds as strings ("140100"); whole numbers are taken too
ServiceId = Annotated[
    str,
    Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$", examples=["140100"]),
    WholeNumberAsText,
]
Number = Annotated[float, Field(allow_inf_nan=False)]
PollingTime = Annotated[
    int, Field(ge=1, le=366 * 86400, description="Seconds between two acquisitions")
]
MappingConfig = Annotated[
    str,
    NoNul,
    Field(
        max_length=128,
        examples=["Global|0|140100"],
        description="Item|Index|Service, e.g. Global|0|140100",
    ),
]


class ReasonValue(CamelModel):
    value: str


class VariableReason(CamelModel):
    """Why the device has the variable: its type's profile (IS_DEFAULT) or a user (USER_DEFINED)."""

    from_template: bool
    reasons: list[ReasonValue]


class VariablePublic(CamelModel):
    uuid: UUID
    device_uuid: UUID
    device_serial_number: str
    device_type_uuid: UUID
    label: str | None
    compatibility_version: str | None
    item_id: int
    item_uuid: UUID
    item_index: str
    item_custom: dict[str, Any] | None
    item_type: str
    service_id: str
    service_uuid: UUID
    service_name: str
    coef: float | None
    offset: float | None
    base_coef: float | None
    base_offset: float | None
    service_type: str
    service_group: str
    iot_group: str | None
    unit: str | None
    severity_name: str | None
    severity_level: int | None
    manufacturer: str | None
    compatibility_min: str | None
    compatibility_max: str | None
    service_translations: dict[str, Any] | None
    item_service_translations: dict[str, Any] | None
    reason: VariableReason
    source: str
    timestamp_id: str | None
    polling_time: int
    send_on_update: bool
    counter_reset_threshold: float | None
    max_carry_seconds: int | None
    is_computed: bool
    configuration_computed: dict[str, Any] | None
    tags: list[str]
    override_fields: dict[str, Any] | None
    active: bool
    stream_ref: str
    datahub_id: int
    mapping_config: str


class VariablesList(CamelModel):
    results: list[VariablePublic]
    total: int


class VariableUpdate(WriteModel):
    read_only_from = (VariablePublic,)

    label: Str255 | None = None
    coef: Number | None = None
    offset: Number | None = None
    base_coef: Number | None = None
    base_offset: Number | None = None
    unit: str | None = Field(
        default=None, description=f"Unit code overriding the service's: {', '.join(UNITS)}"
    )
    polling_time: PollingTime | None = None
    send_on_update: bool | None = None
    counter_reset_threshold: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        None,
        description="For the delta aggregation of a cumulative counter: a decrease larger than "
        "this is a counter reset (the counter restarted from zero), a smaller one is noise and "
        "counts as a negative increase. Unset: 0, every decrease is a reset",
    )
    max_carry_seconds: Annotated[int, Field(ge=1, le=366 * 86400)] | None = Field(
        None,
        description="For the twa (time-weighted average) aggregation: how long a value holds "
        "at most when no point follows; a longer gap counts only this long. Unset: 3 x "
        f"pollingTime, or {CARRY_ON_UPDATE_SECONDS:,} s for a variable with sendOnUpdate",
    )
    tags: list[Str255] | None = None
    active: bool | None = None
    iot_group: Str255 | None = None
    timestamp_id: Str255 | None = None
    configuration_computed: JsonObject | None = None
    override_fields: JsonObject | None = None

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str | None) -> str | None:
        if value is not None and value not in UNITS:
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise ValueError(f"unknown unit {shown!r}; use one of {', '.join(UNITS)}")
        return value


class VariableCreate(VariableUpdate):
    item_type: ItemType
    item_index: ItemIndex
    service_id: ServiceId


class VariableBatchUpdate(VariableUpdate):
    uuid: UUID


# keeps a filter within the bound parameters a database accepts in one query
MAX_VALUES = Field(max_length=1000)


class VariableFilter(WriteModel):
    """POST /variables filters: AND between keys, OR inside a list; an empty list is no filter."""

    device_uuids: Annotated[list[UUID], MAX_VALUES] | None = None
    service_ids: Annotated[list[ServiceId], MAX_VALUES] | None = None
    item_types: Annotated[list[ItemType], MAX_VALUES] | None = None
    service_types: list[ServiceType] | None = None
    mapping_configs: Annotated[list[MappingConfig], MAX_VALUES] | None = None
