"""The service catalog and the device types with their profiles."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sodata.kit.db import Base
from sodata.models._columns import IntPk, OptStr, PublicUuid, Str


class Service(Base):
    """What a variable measures: serviceId 140100 is IUpsOutput_Lr, the output load rate in %."""

    __tablename__ = "services"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    service_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[Str]
    type: Mapped[str] = mapped_column(String(16))  # Measure | Alarm | Status
    group: Mapped[Str]
    unit: Mapped[OptStr]  # unit code as on the wire: PERCENT, AMPERE, ...
    data_type: Mapped[str] = mapped_column(
        String(16), default="number"
    )  # number | boolean | string
    severity_name: Mapped[OptStr]
    severity_level: Mapped[int | None] = mapped_column(default=None)
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeviceType(Base):
    __tablename__ = "device_types"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    reference_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[Str]
    model_name: Mapped[Str]
    manufacturer: Mapped[Str]
    is_gateway: Mapped[bool] = mapped_column(default=False)
    configuration_key: Mapped[OptStr]
    profile: Mapped[list[ProfileEntry]] = relationship(
        back_populates="device_type", order_by="ProfileEntry.id", cascade="all, delete-orphan"
    )


class ProfileEntry(Base):
    """One variable that every device of a type gets: item, index, service and settings."""

    __tablename__ = "profile_entries"
    __table_args__ = (UniqueConstraint("device_type_id", "item_type", "item_index", "service_id"),)

    id: Mapped[IntPk]
    device_type_id: Mapped[int] = mapped_column(
        ForeignKey("device_types.id", ondelete="CASCADE"), index=True
    )
    item_type: Mapped[str] = mapped_column(String(64))
    item_index: Mapped[int] = mapped_column(default=0)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    polling_time: Mapped[int] = mapped_column(default=60)
    send_on_update: Mapped[bool] = mapped_column(default=False)
    is_computed: Mapped[bool] = mapped_column(default=False)

    device_type: Mapped[DeviceType] = relationship(back_populates="profile")
    service: Mapped[Service] = relationship()
