from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import field_validator

from sodata.contacts.schemas import AddressPublic, AddressWrite, ContactPublic, ContactWrite
from sodata.kit.schemas import CamelModel, WriteModel
from sodata.kit.timezones import check_time_zone
from sodata.kit.types import JsonObject, Name, Str32, Str64, Str255, Text


class SitePublic(CamelModel):
    uuid: UUID
    email_to: str | None
    email_cc: str | None
    technical_name: str | None
    language: str | None
    name: str
    description: str | None
    configuration_options: dict[str, Any] | None
    activation_key: UUID
    visibility: str | None
    customer_id: int
    auto_gateways_registration: bool
    auto_products_registration: bool
    time_zone: str
    additional_information: str | None
    moving_authorization: str
    customer_uuid: UUID
    address: AddressPublic | None = None
    contact: ContactPublic | None = None
    devices_quantity: int


NESTED = {"contact": "contact", "address": "address"}


class SiteUpdate(WriteModel):
    read_only_from = (SitePublic,)

    name: Name | None = None
    customer_uuid: UUID | None = None
    email_to: Str255 | None = None
    email_cc: Str255 | None = None
    technical_name: Str255 | None = None
    language: Str255 | None = None
    description: Text | None = None
    configuration_options: JsonObject | None = None
    visibility: Str255 | None = None
    auto_gateways_registration: bool | None = None
    auto_products_registration: bool | None = None
    time_zone: Str64 | None = None
    additional_information: Text | None = None
    moving_authorization: Str32 | None = None
    address: AddressWrite | None = None
    contact: ContactWrite | None = None

    _tz = field_validator("time_zone")(check_time_zone)


class SiteCreate(SiteUpdate):
    name: Name
    customer_uuid: UUID


class SitesCount(CamelModel):
    count: int
