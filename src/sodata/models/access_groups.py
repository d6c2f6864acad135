"""Data access groups (DAG): the customers and devices whose data a group of users may read."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sodata.kit.db import Base
from sodata.models._columns import Created, IntPk, OptStr, OptText, PublicUuid


class AccessGroup(Base):
    __tablename__ = "access_groups"
    __table_args__ = (UniqueConstraint("corporate_account_id", "name"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    corporate_account_id: Mapped[int] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[OptText]
    country_code: Mapped[str | None] = mapped_column(String(2), default=None)
    technical_name: Mapped[OptStr]
    created_at: Mapped[Created]


class AccessGroupCustomer(Base):
    """Every device of every site of the customer is in the group."""

    __tablename__ = "access_group_customers"

    access_group_id: Mapped[int] = mapped_column(
        ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AccessGroupDevice(Base):
    __tablename__ = "access_group_devices"

    access_group_id: Mapped[int] = mapped_column(
        ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AccessGroupUser(Base):
    __tablename__ = "access_group_users"

    access_group_id: Mapped[int] = mapped_column(
        ForeignKey("access_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
