"""Data access groups (DAG): which customers and devices a group of users may read the data of."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from sodata.access.data import group_device_ids
from sodata.access.principal import Principal
from sodata.access_groups.schemas import AccessGroupCreate, AccessGroupPublic, AccessGroupUpdate
from sodata.audit import apply_update, record
from sodata.customers import service as customers
from sodata.kit.errors import NotFound, not_found
from sodata.kit.lookup import by_uuid_or_name, contains_text, ensure_unique, get_in_ca, public
from sodata.kit.sorting import apply_sort
from sodata.models import (
    AccessGroup,
    AccessGroupCustomer,
    AccessGroupDevice,
    AccessGroupUser,
    CorporateAccount,
    Customer,
    Device,
    Site,
    User,
    UserLink,
)

SORT_FIELDS = {"name": AccessGroup.name, "createdAt": AccessGroup.created_at}
DEVICE_SORT_FIELDS = {
    "name": Device.name,
    "serialNumber": Device.serial_number,
    "status": Device.status,
    "createdAt": Device.created_at,
}
USER_SORT_FIELDS = {"email": User.email, "name": User.name}


def customers_quantity():
    return (
        select(func.count())
        .where(AccessGroupCustomer.access_group_id == AccessGroup.id)
        .correlate(AccessGroup)
        .scalar_subquery()
    )


def devices_quantity():
    members = group_device_ids(lambda column: column == AccessGroup.id).subquery()
    return select(func.count()).select_from(members).correlate(AccessGroup).scalar_subquery()


def users_quantity():
    return (
        select(func.count())
        .where(AccessGroupUser.access_group_id == AccessGroup.id)
        .correlate(AccessGroup)
        .scalar_subquery()
    )


def _with_counters() -> Select:
    return select(AccessGroup, customers_quantity(), devices_quantity(), users_quantity())


def query(ca: CorporateAccount, name: str | None = None, sort_by: str | None = None) -> Select:
    stmt = _with_counters().where(AccessGroup.corporate_account_id == ca.id)
    if name:
        stmt = stmt.where(contains_text(name, AccessGroup.name))
    return apply_sort(stmt, sort_by, SORT_FIELDS, AccessGroup.id)


def to_public(
    ca: CorporateAccount, group: AccessGroup, customers_n: int, devices_n: int, users_n: int
) -> AccessGroupPublic:
    return public(
        AccessGroupPublic,
        group,
        corporate_account_uuid=ca.uuid,
        customers_quantity=customers_n,
        devices_quantity=devices_n,
        users_quantity=users_n,
    )


def get(session: Session, ca: CorporateAccount, group_uuid: uuid.UUID) -> AccessGroup:
    return get_in_ca(session, AccessGroup, ca, group_uuid, "Data access group")


def find(session: Session, ca: CorporateAccount, group: str) -> AccessGroup:
    """The account's group of this uuid or name (for the operator's commands), or a 404."""
    found = session.scalar(
        select(AccessGroup).where(
            AccessGroup.corporate_account_id == ca.id, by_uuid_or_name(AccessGroup, group)
        )
    )
    if found is None:
        raise NotFound(f"Data access group {group} not found in {ca.name}")
    return found


def get_public(session: Session, ca: CorporateAccount, group_uuid: uuid.UUID) -> AccessGroupPublic:
    group = get(session, ca, group_uuid)
    row = session.execute(_with_counters().where(AccessGroup.id == group.id)).one()
    return to_public(ca, *row)


def _ensure_unique_name(
    session: Session, ca: CorporateAccount, name: str, exclude_id: int | None = None
) -> None:
    ensure_unique(
        session,
        AccessGroup.name,
        name,
        [AccessGroup.corporate_account_id == ca.id],
        exclude_id,
        f"name: a data access group named {name!r} already exists in this corporate account",
    )


def create(
    session: Session, principal: Principal, ca: CorporateAccount, data: AccessGroupCreate
) -> AccessGroup:
    _ensure_unique_name(session, ca, data.name)
    group = AccessGroup(corporate_account_id=ca.id, **data.changes())
    session.add(group)
    session.flush()
    record(
        session,
        ca.id,
        "ACCESS_GROUP_CREATED",
        f"Data access group {group.name} created",
        principal=principal,
        obj=group,
    )
    return group


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    group_uuid: uuid.UUID,
    data: AccessGroupUpdate,
) -> AccessGroup:
    """A partial update; logged only when it changes something."""
    group = get(session, ca, group_uuid)
    changes = data.changes()
    if "name" in changes:
        _ensure_unique_name(session, ca, changes["name"], exclude_id=group.id)
    apply_update(
        session,
        principal,
        ca.id,
        group,
        changes,
        action="ACCESS_GROUP_UPDATED",
        message=lambda: f"Data access group {group.name} updated",
    )
    return group


def delete_group(
    session: Session, principal: Principal, ca: CorporateAccount, group_uuid: uuid.UUID
) -> None:
    """Delete the group and its memberships (never the customers, devices or users themselves)."""
    group = get(session, ca, group_uuid)
    for link in (AccessGroupCustomer, AccessGroupDevice, AccessGroupUser):
        session.execute(delete(link).where(link.access_group_id == group.id))
    record(
        session,
        ca.id,
        "ACCESS_GROUP_DELETED",
        f"Data access group {group.name} deleted",
        principal=principal,
        obj=group,
    )
    session.delete(group)
    session.flush()


# Members: customers, devices and users, each in its own link table.


@dataclass(frozen=True)
class Member:
    """The uuid, id and display name of a customer, device or user of the account."""

    uuid: uuid.UUID
    id: int
    name: str


def _find_customer(session: Session, ca: CorporateAccount, member_uuid: uuid.UUID) -> Member | None:
    row = session.execute(
        select(Customer.id, Customer.name).where(
            Customer.corporate_account_id == ca.id, Customer.uuid == member_uuid
        )
    ).first()
    return Member(member_uuid, row.id, row.name) if row else None


def _find_device(session: Session, ca: CorporateAccount, member_uuid: uuid.UUID) -> Member | None:
    row = session.execute(
        select(Device.id, Device.name).where(
            Device.corporate_account_id == ca.id, Device.uuid == member_uuid
        )
    ).first()
    return Member(member_uuid, row.id, row.name) if row else None


def _find_user(session: Session, ca: CorporateAccount, member_uuid: uuid.UUID) -> Member | None:
    """Only users linked to the account can be members of its groups."""
    row = session.execute(
        select(User.id, User.email)
        .join(UserLink, UserLink.user_id == User.id)
        .where(UserLink.corporate_account_id == ca.id, User.uuid == member_uuid)
    ).first()
    return Member(member_uuid, row.id, row.email) if row else None


@dataclass(frozen=True)
class Kind:
    label: str  # in messages: "Customer"
    action: str  # in log actions: ACCESS_GROUP_<action>_ADDED
    link: type[AccessGroupCustomer | AccessGroupDevice | AccessGroupUser]
    column: str  # the link table's member id column
    find: Callable[[Session, CorporateAccount, uuid.UUID], Member | None]


CUSTOMERS = Kind("Customer", "CUSTOMER", AccessGroupCustomer, "customer_id", _find_customer)
DEVICES = Kind("Device", "DEVICE", AccessGroupDevice, "device_id", _find_device)
USERS = Kind("User", "USER", AccessGroupUser, "user_id", _find_user)


def _member(session: Session, ca: CorporateAccount, kind: Kind, member_uuid: uuid.UUID) -> Member:
    member = kind.find(session, ca, member_uuid)
    if member is None:
        raise not_found(kind.label, member_uuid)
    return member


def add_member(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    group_uuid: uuid.UUID,
    kind: Kind,
    member_uuid: uuid.UUID,
) -> AccessGroup:
    """Idempotent: adding a member twice changes (and logs) nothing the second time."""
    group = get(session, ca, group_uuid)
    member = _member(session, ca, kind, member_uuid)
    if session.get(kind.link, (group.id, member.id)) is None:
        session.add(kind.link(access_group_id=group.id, **{kind.column: member.id}))
        session.flush()
        record(
            session,
            ca.id,
            f"ACCESS_GROUP_{kind.action}_ADDED",
            f"{kind.label} {member.name} added to data access group {group.name}",
            principal=principal,
            obj=group,
            details={f"{kind.label.lower()}Uuid": str(member.uuid)},
        )
    return group


def remove_member(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    group_uuid: uuid.UUID,
    kind: Kind,
    member_uuid: uuid.UUID,
) -> AccessGroup:
    group = get(session, ca, group_uuid)
    member = _member(session, ca, kind, member_uuid)
    link = session.get(kind.link, (group.id, member.id))
    if link is None:
        raise NotFound(
            f"{kind.label} {member_uuid} is not a member of data access group {group.name}"
        )
    session.delete(link)
    session.flush()
    record(
        session,
        ca.id,
        f"ACCESS_GROUP_{kind.action}_REMOVED",
        f"{kind.label} {member.name} removed from data access group {group.name}",
        principal=principal,
        obj=group,
        details={f"{kind.label.lower()}Uuid": str(member.uuid)},
    )
    return group


def customers_query(group: AccessGroup, sort_by: str | None, details: frozenset[str]) -> Select:
    """The group's customers with their sites count, ready for customers.to_public, with the
    nested objects of `details` loaded."""
    stmt = (
        select(Customer, customers.sites_quantity())
        .join(AccessGroupCustomer, AccessGroupCustomer.customer_id == Customer.id)
        .where(
            AccessGroupCustomer.access_group_id == group.id,
            Customer.corporate_account_id == group.corporate_account_id,
        )
        .options(*customers.loader_options(details))
    )
    return apply_sort(stmt, sort_by, customers.SORT_FIELDS, Customer.id)


def devices_query(group: AccessGroup, sort_by: str | None = None) -> Select:
    """The devices put in the group one by one (not those it reaches through its customers)."""
    stmt = (
        select(
            Device.uuid,
            Device.name,
            Device.serial_number,
            Site.uuid.label("site_uuid"),
            Device.status,
        )
        .join(AccessGroupDevice, AccessGroupDevice.device_id == Device.id)
        .outerjoin(Site, Site.id == Device.site_id)
        .where(
            AccessGroupDevice.access_group_id == group.id,
            Device.corporate_account_id == group.corporate_account_id,
        )
    )
    return apply_sort(stmt, sort_by, DEVICE_SORT_FIELDS, Device.id)


def users_query(group: AccessGroup, sort_by: str | None = None) -> Select:
    stmt = (
        select(User.uuid, User.email, User.name)
        .join(AccessGroupUser, AccessGroupUser.user_id == User.id)
        .where(AccessGroupUser.access_group_id == group.id)
    )
    return apply_sort(stmt, sort_by, USER_SORT_FIELDS, User.id, default="email")
