"""Typed objects of the SoData API, with the spec's fields (Python names in snake_case, the
wire's camelCase as aliases).

Every model accepts fields it does not know (`extra="allow"`), so a newer server never
breaks an older client; `model_dump(by_alias=True)` gives back the API's JSON. Fields the
API may omit default to None. Uuids that the vendor's API sends as "" read as None.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeAlias
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


OptionalUuid = Annotated[UUID | None, BeforeValidator(_empty_is_none)]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", protected_namespaces=()
    )

    def to_json(self) -> dict[str, Any]:
        """The object as the API sends it (camelCase keys, unknown fields included)."""
        return self.model_dump(mode="json", by_alias=True)


class UserLink(ApiModel):
    uuid: UUID
    status: str | None = None
    is_support: bool | None = None
    corporate_account_id: int | None = None
    user_id: int | None = None
    role: str | None = None


class CorporateAccount(ApiModel):
    uuid: UUID
    name: str
    default_customer_uuid: OptionalUuid = None
    activation_type: str | None = None
    email_to: str | None = None
    email_cc: str | None = None
    can_publish: bool | None = None
    auto_template_synchro: bool | None = None
    is_multi_customer_account: bool | None = None
    active: bool | None = None
    moving_authorization: str | None = None
    icon_uuid: OptionalUuid = None
    user_links: list[UserLink] = Field(default_factory=list)
    is_master: bool | None = None


class Address(ApiModel):
    uuid: OptionalUuid = None
    use_parent: bool | None = None
    street: str | None = None
    post_code: str | None = None
    city: str | None = None
    country: str | None = None
    state: str | None = None


class Contact(ApiModel):
    uuid: OptionalUuid = None
    use_parent: bool | None = None
    name: str | None = None
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    email_cc: str | None = Field(None, alias="emailCC")


class Customer(ApiModel):
    uuid: UUID
    name: str
    email_to: str | None = None
    email_cc: str | None = None
    technical_name: str | None = None
    reference: str | None = None
    description: str | None = None
    visibility: str | None = None
    corporate_account_id: int | None = None
    additional_information: str | None = None
    moving_authorization: str | None = None
    corporate_account_uuid: OptionalUuid = None
    icon_uuid: OptionalUuid = None
    company_address: Address | None = None
    contact: Contact | None = None
    sites_quantity: int | None = None


class Site(ApiModel):
    uuid: UUID
    name: str
    email_to: str | None = None
    email_cc: str | None = None
    technical_name: str | None = None
    language: str | None = None
    description: str | None = None
    configuration_options: dict[str, Any] | None = None
    activation_key: OptionalUuid = None
    visibility: str | None = None
    customer_id: int | None = None
    auto_gateways_registration: bool | None = None
    auto_products_registration: bool | None = None
    time_zone: str | None = None
    additional_information: str | None = None
    moving_authorization: str | None = None
    customer_uuid: OptionalUuid = None
    address: Address | None = None
    contact: Contact | None = None
    devices_quantity: int | None = None


class Device(ApiModel):
    uuid: UUID
    name: str
    serial_number: str
    email_to: str | None = None
    email_cc: str | None = None
    technical_name: str | None = None
    mapping_mode: str | None = None
    acquisition_id: str | None = None
    description: str | None = None
    custom: dict[str, Any] | None = None
    configuration_options: dict[str, Any] | None = None
    frequency_status: int | None = None
    frequency_stream: int | None = None
    status: str | None = None
    creation_type: str | None = None
    connection_status: str | None = None
    visibility: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    device_type_uid: OptionalUuid = None
    device_type_reference_id: str | None = None
    manufacturer: str | None = None
    location: str | None = None
    contract_number: str | None = None
    model_name: str | None = None
    profile_is_up_to_date: bool | None = None
    create_no_communication_alarm: bool | None = None
    no_communication_period: int | None = None
    tags: list[str] | None = None
    locked: bool | None = None
    additional_information: str | None = None
    gateway_id: int | None = None
    configuration_key: str | None = None
    storage_name: str | None = None
    net_id: str | None = None
    moving_authorization: str | None = None
    site_uuid: OptionalUuid = None
    gateway_uuid: OptionalUuid = None
    icon_uuid: OptionalUuid = None
    contact: Contact | None = None
    address: Address | None = None
    time_zone: str | None = None
    created_at: datetime | None = None
    owned: bool | None = None


class Item(ApiModel):
    uuid: UUID
    id: int | None = None
    device_uuid: OptionalUuid = None
    item_type: str
    index: str
    name: str | None = None
    custom: dict[str, Any] | None = None
    variables_quantity: int | None = None
    created_at: datetime | None = None


class Variable(ApiModel):
    uuid: UUID
    device_uuid: UUID
    item_type: str
    item_index: str
    service_id: str
    device_serial_number: str | None = None
    device_type_uuid: OptionalUuid = None
    label: str | None = None
    compatibility_version: str | None = None
    item_id: int | None = None
    item_uuid: OptionalUuid = None
    item_custom: dict[str, Any] | None = None
    service_uuid: OptionalUuid = None
    service_name: str | None = None
    coef: float | None = None
    offset: float | None = None
    base_coef: float | None = None
    base_offset: float | None = None
    service_type: str | None = None
    service_group: str | None = None
    iot_group: str | None = None
    unit: str | None = None
    severity_name: str | None = None
    severity_level: int | None = None
    manufacturer: str | None = None
    compatibility_min: str | None = None
    compatibility_max: str | None = None
    service_translations: dict[str, Any] | None = None
    item_service_translations: dict[str, Any] | None = None
    reason: dict[str, Any] | None = None
    source: str | None = None
    timestamp_id: str | None = None
    polling_time: int | None = None
    send_on_update: bool | None = None
    counter_reset_threshold: float | None = None  # delta: a larger drop is a reset (None: 0)
    max_carry_seconds: int | None = None  # twa: how long a value holds (None: the default)
    is_computed: bool | None = None
    configuration_computed: dict[str, Any] | None = None
    tags: list[str] | None = None
    override_fields: dict[str, Any] | None = None
    active: bool | None = None
    stream_ref: str | None = None
    datahub_id: int | None = None
    mapping_config: str = ""  # Item|Index|Service (spec 3.3.1), e.g. "Global|0|140100"

    @model_validator(mode="after")
    def _default_mapping_config(self) -> Variable:
        if not self.mapping_config:  # servers that do not send it (the vendor's)
            self.mapping_config = f"{self.item_type}|{self.item_index}|{self.service_id}"
        return self

    @property
    def title(self) -> str | None:
        """The service's English title, e.g. "Ups output global load rate"."""
        en = (self.service_translations or {}).get("en") or {}
        return en.get("title") if isinstance(en, dict) else None


class AccessGroup(ApiModel):
    uuid: UUID
    name: str
    description: str | None = None
    country_code: str | None = None
    technical_name: str | None = None
    corporate_account_uuid: OptionalUuid = None
    customers_quantity: int | None = None
    devices_quantity: int | None = None
    users_quantity: int | None = None
    created_at: datetime | None = None


class AccessGroupDevice(ApiModel):
    uuid: UUID
    name: str | None = None
    serial_number: str | None = None
    site_uuid: OptionalUuid = None
    status: str | None = None


class AccessGroupUser(ApiModel):
    uuid: UUID
    email: str | None = None
    name: str | None = None


class Log(ApiModel):
    uuid: UUID
    created_at: datetime | None = None
    level: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_uuid: OptionalUuid = None
    object_name: str | None = None
    user_uuid: OptionalUuid = None
    user_email: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None
    corporate_account_uuid: OptionalUuid = None


class LastValue(ApiModel):
    """One variable's latest point (spec 5.9.3). `value` is text, as the API sends it."""

    service_id: str
    item_type: str
    item_index: str
    device_uuid: UUID
    value: str | None = None
    date: datetime | None = None
    title: str | None = None
    unit: str | None = None
    device_name: str | None = None
    item_name: str | None = None
    service_group: str | None = None
    service_type: str | None = None

    @property
    def mapping_config(self) -> str:
        return f"{self.item_type}|{self.item_index}|{self.service_id}"


class Rejection(ApiModel):
    """A point (or, with `point` None, a whole series) that ingestion refused, and why.
    `series` and `point` index the data given to `ingest()`."""

    series: int
    point: int | None = None
    at: Any = None
    reason: str


class IngestResult(ApiModel):
    accepted: int = 0
    rejected: int = 0
    errors: list[Rejection] = Field(default_factory=list)


# How the clients' methods take an object of an account: the model itself (anything with its
# `uuid`), its uuid, or the uuid's text. (A variable of a datapoints query may also be a
# mapping config such as "Global|0|140100": see `datapoints.VariableSpec`.)
CaRef: TypeAlias = CorporateAccount | UUID | str
CustomerRef: TypeAlias = Customer | UUID | str
SiteRef: TypeAlias = Site | UUID | str
DeviceRef: TypeAlias = Device | UUID | str
ItemRef: TypeAlias = Item | UUID | str
VariableRef: TypeAlias = Variable | UUID | str
AccessGroupRef: TypeAlias = AccessGroup | UUID | str
LogRef: TypeAlias = Log | UUID | str
Instant: TypeAlias = datetime | date | str
"""A time as the API's filters take it: ISO 8601 text, a datetime or a date."""
