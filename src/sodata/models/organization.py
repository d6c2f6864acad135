"""Corporate accounts > customers > sites, their addresses and contacts, users and their links."""

from __future__ import annotations

import uuid as uuid_module
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sodata.kit.db import Base
from sodata.models._columns import Created, IntPk, OptStr, OptText, PublicUuid, Str


class Icon(Base):
    __tablename__ = "icons"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    content_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(
        LargeBinary, deferred=True
    )  # loaded only to serve the image


class Address(Base):
    __tablename__ = "addresses"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    use_parent: Mapped[bool] = mapped_column(default=False)
    street: Mapped[OptStr]
    post_code: Mapped[OptStr]
    city: Mapped[OptStr]
    country: Mapped[OptStr]
    state: Mapped[OptStr]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    use_parent: Mapped[bool] = mapped_column(default=False)
    name: Mapped[OptStr]
    phone: Mapped[OptStr]
    mobile: Mapped[OptStr]
    email: Mapped[OptStr]
    email_cc: Mapped[OptStr]


class CorporateAccount(Base):
    __tablename__ = "corporate_accounts"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    name: Mapped[str] = mapped_column(String(255), unique=True)
    default_customer_uuid: Mapped[uuid_module.UUID | None] = mapped_column(Uuid, default=None)
    activation_type: Mapped[str] = mapped_column(String(32), default="MAINTENANCE")
    email_to: Mapped[OptStr]
    email_cc: Mapped[OptStr]
    can_publish: Mapped[bool] = mapped_column(default=False)
    auto_template_synchro: Mapped[bool] = mapped_column(default=True)
    is_multi_customer_account: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    moving_authorization: Mapped[str] = mapped_column(String(32), default="CONSERVATION")
    icon_uuid: Mapped[uuid_module.UUID | None] = mapped_column(Uuid, default=None)
    is_master: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[Created]

    user_links: Mapped[list[UserLink]] = relationship(
        back_populates="corporate_account", order_by="UserLink.id", cascade="all, delete-orphan"
    )


class User(Base):
    """A person who signs in (email and password), or who is matched by email from an external
    identity provider. A superuser is a platform operator: admin of every corporate account."""

    __tablename__ = "users"

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    email: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[OptStr]
    enabled: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)  # argon2id
    is_superuser: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[Created]


class UserLink(Base):
    """A user's membership of a corporate account, with the role that gives their rights there."""

    __tablename__ = "user_links"
    __table_args__ = (UniqueConstraint("corporate_account_id", "user_id"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    corporate_account_id: Mapped[int] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="VALIDATED")
    is_support: Mapped[bool] = mapped_column(default=False)
    role: Mapped[str] = mapped_column(String(16), default="viewer")  # admin | manager | viewer

    corporate_account: Mapped[CorporateAccount] = relationship(back_populates="user_links")
    user: Mapped[User] = relationship()


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("corporate_account_id", "name"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    corporate_account_id: Mapped[int] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[Str]
    technical_name: Mapped[OptStr]
    email_to: Mapped[OptStr]
    email_cc: Mapped[OptStr]
    reference: Mapped[OptStr]
    description: Mapped[OptText]
    visibility: Mapped[OptStr]
    additional_information: Mapped[OptText]
    moving_authorization: Mapped[str] = mapped_column(String(32), default="INHERITED")
    icon_id: Mapped[int | None] = mapped_column(
        ForeignKey("icons.id", ondelete="SET NULL"), default=None
    )
    company_address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"), default=None)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None)
    created_at: Mapped[Created]

    # loaded when used (lazy): the queries that show them ask for them with loader options
    corporate_account: Mapped[CorporateAccount] = relationship()
    icon: Mapped[Icon | None] = relationship()
    company_address: Mapped[Address | None] = relationship(
        cascade="all, delete-orphan", single_parent=True
    )
    contact: Mapped[Contact | None] = relationship(cascade="all, delete-orphan", single_parent=True)


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)

    id: Mapped[IntPk]
    uuid: Mapped[PublicUuid]
    corporate_account_id: Mapped[int] = mapped_column(
        ForeignKey("corporate_accounts.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[Str]
    technical_name: Mapped[OptStr]
    email_to: Mapped[OptStr]
    email_cc: Mapped[OptStr]
    language: Mapped[OptStr]
    description: Mapped[OptText]
    configuration_options: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    activation_key: Mapped[uuid_module.UUID] = mapped_column(
        Uuid, unique=True, default=uuid_module.uuid4
    )
    visibility: Mapped[OptStr]
    auto_gateways_registration: Mapped[bool] = mapped_column(default=True)
    auto_products_registration: Mapped[bool] = mapped_column(default=True)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    additional_information: Mapped[OptText]
    moving_authorization: Mapped[str] = mapped_column(String(32), default="INHERITED")
    address_id: Mapped[int | None] = mapped_column(ForeignKey("addresses.id"), default=None)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), default=None)
    created_at: Mapped[Created]

    customer: Mapped[Customer] = relationship()
    address: Mapped[Address | None] = relationship(cascade="all, delete-orphan", single_parent=True)
    contact: Mapped[Contact | None] = relationship(cascade="all, delete-orphan", single_parent=True)


__all__ = ["Address", "Contact", "CorporateAccount", "Customer", "Icon", "Site", "User", "UserLink"]
