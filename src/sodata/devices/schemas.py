from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, field_validator

from sodata.contacts.schemas import AddressPublic, AddressWrite, ContactPublic, ContactWrite
from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.timezones import check_time_zone
from sodata.kit.types import JsonObject, Name, Serial, Str32, Str64, Str255, Text

Seconds = Annotated[int, Field(ge=1, le=2_147_483_647)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]

DeviceStatus = Literal["PENDING", "ACCEPTED", "DEACTIVATED"]


class DevicePublic(CamelModel):
    uuid: UUID
    email_to: str | None
    email_cc: str | None
    technical_name: str | None
    mapping_mode: str
    acquisition_id: str | None
    description: str | None
    serial_number: str
    custom: dict[str, Any] | None
    configuration_options: dict[str, Any] | None
    frequency_status: int
    frequency_stream: int
    status: str
    creation_type: str
    connection_status: str | None
    visibility: str | None
    longitude: float | None
    latitude: float | None
    device_type_uid: UUID
    device_type_reference_id: str
    manufacturer: str
    location: str | None
    contract_number: str | None
    model_name: str
    profile_is_up_to_date: bool
    create_no_communication_alarm: bool
    no_communication_period: int
    tags: list[str] | None
    locked: bool
    additional_information: str | None
    gateway_id: int | None
    configuration_key: str | None
    storage_name: str
    net_id: str | None
    moving_authorization: str
    site_uuid: UUID | None
    gateway_uuid: UUID | None
    icon_uuid: UUID | None
    contact: ContactPublic | None = None
    address: AddressPublic | None = None
    name: str
    time_zone: str
    created_at: Timestamp
    owned: bool


NESTED = {"contact": "contact", "address": "address"}


class DeviceUpdate(WriteModel):
    """PUT body: the fields sent are changed, the others kept."""

    read_only_from = (DevicePublic,)

    name: Name | None = None
    serial_number: Serial | None = None
    site_uuid: UUID | None = None
    gateway_uuid: UUID | None = None
    email_to: Str255 | None = None
    email_cc: Str255 | None = None
    technical_name: Str255 | None = None
    mapping_mode: Str32 | None = None
    acquisition_id: Str255 | None = None
    description: Text | None = None
    custom: JsonObject | None = None
    configuration_options: JsonObject | None = None
    frequency_status: Seconds | None = None
    frequency_stream: Seconds | None = None
    visibility: Str255 | None = None
    longitude: Longitude | None = None
    latitude: Latitude | None = None
    location: Str255 | None = None
    contract_number: Str255 | None = None
    create_no_communication_alarm: bool | None = None
    no_communication_period: Seconds | None = None
    tags: list[Str255] | None = None
    locked: bool | None = None
    additional_information: Text | None = None
    configuration_key: Str255 | None = None
    storage_name: Str64 | None = None
    net_id: Str255 | None = None
    moving_authorization: Str32 | None = None
    time_zone: Str64 | None = None
    contact: ContactWrite | None = None
    address: AddressWrite | None = None

    _tz = field_validator("time_zone")(check_time_zone)


class DeviceCreate(DeviceUpdate):
    name: Name
    serial_number: Serial
    site_uuid: UUID
    device_type_uid: UUID


class DevicePreCreate(WriteModel):
    serial_number: Serial
    device_type_uid: UUID
    name: Name | None = None


class DeviceLink(WriteModel):
    serial_number: Serial
    activation_key: UUID = Field(description="The activationKey of the site to link the device to")
    gateway_serial_number: Serial | None = Field(
        default=None, description="Serial number of the gateway the device reports through"
    )
    device_type_uid: UUID | None = Field(
        default=None, description="Required when the device does not exist yet (it is then created)"
    )
    name: Name | None = None


class DevicesRepaired(CamelModel):
    """The answer of PUT .../devices/repair-devices."""

    repaired_devices: int = Field(description="How many devices got their profile applied again")
    devices: list[UUID] = Field(description="The uuids of the repaired devices")
    created_variables: int = Field(description="How many missing profile variables were created")


class DeviceSharePublic(CamelModel):
    device_uuid: UUID
    site_uuid: UUID
    created_at: Timestamp
