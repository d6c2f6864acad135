"""Devices, the sites they are shared with, their items and variables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sodata.kit.db import Base
from sodata.models._columns import Created, IntPk, OptStr, OptText, PublicUuid, Str
from sodata.models.catalog import DeviceType, Service
from sodata.models.organization import Address, Contact, Icon, Site


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("corporate_account_id", "serial_number"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    corporate_account_id: Mapped[int] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE"), index=True
    )
    # null until a pre-created device is linked to a site
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True, default=None)
    gateway_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True, default=None
    )
    device_type_id: Mapped[int] = mapped_column(ForeignKey("device_types.id"))
    name: Mapped[Str]
    serial_number: Mapped[str] = mapped_column(String(64), index=True)
    technical_name: Mapped[OptStr]
    email_to: Mapped[OptStr]
    email_cc: Mapped[OptStr]
    mapping_mode: Mapped[str] = mapped_column(String(32), default="SERVICE_ID")
    acquisition_id: Mapped[OptStr]
    description: Mapped[OptText]
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    configuration_options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    frequency_status: Mapped[int] = mapped_column(default=60)
    frequency_stream: Mapped[int] = mapped_column(default=60)
    status: Mapped[str] = mapped_column(
        String(16), default="ACCEPTED"
    )  # PENDING | ACCEPTED | DEACTIVATED
    creation_type: Mapped[str] = mapped_column(
        String(16), default="CREATED"
    )  # CREATED | PRE_CREATED | LINKED
    connection_status: Mapped[OptStr]
    visibility: Mapped[OptStr]
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    location: Mapped[OptStr]
    contract_number: Mapped[OptStr]
    profile_is_up_to_date: Mapped[bool] = mapped_column(default=False)
    create_no_communication_alarm: Mapped[bool] = mapped_column(default=True)
    no_communication_period: Mapped[int] = mapped_column(default=60)
    tags: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    locked: Mapped[bool] = mapped_column(default=False)
    additional_information: Mapped[OptText]
    configuration_key: Mapped[OptStr]
    storage_name: Mapped[str] = mapped_column(String(64), default="DataHub")
    net_id: Mapped[OptStr]
    moving_authorization: Mapped[str] = mapped_column(String(32), default="INHERITED")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    icon_id: Mapped[int | None] = mapped_column(
        ForeignKey("icons.id", ondelete="SET NULL"), default=None
    )
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"), default=None)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None)
    created_at: Mapped[Created]
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    # loaded when used (lazy): the queries that show them ask for them with loader options
    site: Mapped[Site | None] = relationship()
    gateway: Mapped[Device | None] = relationship(remote_side="Device.id")
    device_type: Mapped[DeviceType] = relationship()
    icon: Mapped[Icon | None] = relationship()
    address: Mapped[Address | None] = relationship(cascade="all, delete-orphan", single_parent=True)
    contact: Mapped[Contact | None] = relationship(cascade="all, delete-orphan", single_parent=True)


class DeviceShare(Base):
    """A device made visible in a site other than its own (same corporate account)."""

    __tablename__ = "device_shares"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[int] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[Created]


class Item(Base):
    """A part of a device (Global, Unit, Load, ...); several of one type are told apart by index."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("device_id", "item_type", "index"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    item_type: Mapped[str] = mapped_column(String(64))
    index: Mapped[int] = mapped_column(default=0)
    name: Mapped[OptStr]
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[Created]


CARRY_ON_UPDATE_SECONDS = 86_400


class Variable(Base):
    """One measured, alarm or status value of an item, bound to a service."""

    __tablename__ = "variables"
    __table_args__ = (UniqueConstraint("item_id", "service_id"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    label: Mapped[OptStr]
    compatibility_version: Mapped[OptStr]
    coef: Mapped[float | None] = mapped_column(Float, default=None)
    offset: Mapped[float | None] = mapped_column(Float, default=None)
    base_coef: Mapped[float | None] = mapped_column(Float, default=None)
    base_offset: Mapped[float | None] = mapped_column(Float, default=None)
    iot_group: Mapped[OptStr]
    unit: Mapped[OptStr]  # overrides the service's unit when set
    source: Mapped[str] = mapped_column(String(16), default="USER")  # PROFILE | USER
    timestamp_id: Mapped[OptStr]
    polling_time: Mapped[int] = mapped_column(default=60)
    send_on_update: Mapped[bool] = mapped_column(default=False)
    # delta: the largest decrease that is noise, not a counter reset (None: 0)
    counter_reset_threshold: Mapped[float | None] = mapped_column(Float, default=None)
    # twa: how long a value holds at most (None: 3 x polling_time, or CARRY_ON_UPDATE_SECONDS
    # for a variable sent on update)
    max_carry_seconds: Mapped[int | None] = mapped_column(default=None)
    is_computed: Mapped[bool] = mapped_column(default=False)
    configuration_computed: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[Created]

    device: Mapped[Device] = relationship()
    item: Mapped[Item] = relationship()
    service: Mapped[Service] = relationship()
