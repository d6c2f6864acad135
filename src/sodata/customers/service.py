"""Customers of a corporate account: queries and changes."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from sodata.access.principal import Principal
from sodata.audit import apply_update, record
from sodata.contacts.service import set_field
from sodata.customers.schemas import NESTED, CustomerCreate, CustomerPublic, CustomerUpdate
from sodata.icons.service import delete_icon
from sodata.icons.service import set_icon as replace_icon
from sodata.kit.errors import Conflict, not_found
from sodata.kit.lookup import (
    contains_text,
    ensure_unique,
    get_in_ca,
    public,
)
from sodata.kit.sorting import apply_sort
from sodata.models import CorporateAccount, Customer, Icon, Site

SORT_FIELDS = {
    "name": Customer.name,
    "technicalName": Customer.technical_name,
    "reference": Customer.reference,
    "createdAt": Customer.created_at,
}

ALL_DETAILS = frozenset(NESTED)


def sites_quantity():
    return (
        select(func.count(Site.id))
        .where(Site.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )


def loader_options(details: frozenset[str]) -> list[ORMOption]:
    """What `to_public` reads: the icon, and the contact and address when asked for; one query
    per kind for a whole page (the account itself is already in the session)."""
    options: list[ORMOption] = [selectinload(Customer.icon)]
    if "contact" in details:
        options.append(selectinload(Customer.contact))
    if "address" in details:
        options.append(selectinload(Customer.company_address))
    return options


def _select(ca: CorporateAccount, details: frozenset[str]) -> Select:
    return (
        select(Customer, sites_quantity())
        .where(Customer.corporate_account_id == ca.id)
        .options(*loader_options(details))
    )


def query(
    ca: CorporateAccount,
    sort_by: str | None = None,
    *,
    details: frozenset[str],
    name: str | None = None,
) -> Select:
    """Rows (customer, sites quantity) of the account, with the nested objects of `details`
    loaded; with `name`, of the customers whose name contains it."""
    stmt = _select(ca, details)
    if name:
        stmt = stmt.where(contains_text(name, Customer.name))
    return apply_sort(stmt, sort_by, SORT_FIELDS, Customer.id)


def to_public(customer: Customer, sites: int, details: frozenset[str]) -> CustomerPublic:
    return public(
        CustomerPublic,
        customer,
        corporate_account_uuid=customer.corporate_account.uuid,
        icon_uuid=customer.icon.uuid if customer.icon_id is not None and customer.icon else None,
        sites_quantity=sites,
        company_address=customer.company_address if "address" in details else None,
        contact=customer.contact if "contact" in details else None,
    )


def get(
    session: Session,
    ca: CorporateAccount,
    customer_uuid: uuid.UUID,
    field: str | None = None,
) -> Customer:
    """The customer, or a 404 (a 400 naming `field` when the uuid came in a body or a filter)."""
    return get_in_ca(session, Customer, ca, customer_uuid, "Customer", field)


def get_public(
    session: Session,
    ca: CorporateAccount,
    customer_uuid: uuid.UUID,
    details: frozenset[str] = ALL_DETAILS,
) -> CustomerPublic:
    row = session.execute(_select(ca, details).where(Customer.uuid == customer_uuid)).first()
    if row is None:
        raise not_found("Customer", customer_uuid)
    return to_public(row[0], row[1], details)


def _ensure_unique_name(
    session: Session, ca: CorporateAccount, name: str, exclude_id: int | None = None
) -> None:
    ensure_unique(
        session,
        Customer.name,
        name,
        [Customer.corporate_account_id == ca.id],
        exclude_id,
        f"name: a customer named {name!r} already exists in this corporate account",
    )


def create(
    session: Session, principal: Principal, ca: CorporateAccount, data: CustomerCreate
) -> Customer:
    _ensure_unique_name(session, ca, data.name)
    customer = Customer(corporate_account=ca, corporate_account_id=ca.id)
    for key, value in data.changes().items():
        set_field(customer, key, value)
    session.add(customer)
    session.flush()
    record(
        session,
        ca.id,
        "CUSTOMER_CREATED",
        f"Customer {customer.name} created",
        principal=principal,
        obj=customer,
    )
    return customer


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    customer_uuid: uuid.UUID,
    data: CustomerUpdate,
) -> Customer:
    """A partial update; logged only when it changes something."""
    customer = get(session, ca, customer_uuid)
    changes = data.changes()
    if "name" in changes:
        _ensure_unique_name(session, ca, changes["name"], exclude_id=customer.id)

    def apply() -> None:
        for key, value in changes.items():
            set_field(customer, key, value)

    apply_update(
        session,
        principal,
        ca.id,
        customer,
        changes,
        action="CUSTOMER_UPDATED",
        message=lambda: f"Customer {customer.name} updated",
        apply=apply,
    )
    return customer


def delete(
    session: Session, principal: Principal, ca: CorporateAccount, customer_uuid: uuid.UUID
) -> None:
    """Delete the customer with its contact, address and icon; refused while it has sites."""
    customer = get(session, ca, customer_uuid)
    sites = session.scalar(select(func.count(Site.id)).where(Site.customer_id == customer.id)) or 0
    if sites:
        raise Conflict(
            f"Customer {customer.name} still has {sites} site(s); delete or move them first"
        )
    record(
        session,
        ca.id,
        "CUSTOMER_DELETED",
        f"Customer {customer.name} deleted",
        principal=principal,
        obj=customer,
    )
    delete_icon(session, customer)
    session.delete(customer)


def set_icon(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    customer_uuid: uuid.UUID,
    icon: Icon,
) -> Customer:
    customer = get(session, ca, customer_uuid)
    replace_icon(session, customer, icon)
    session.flush()
    record(
        session,
        ca.id,
        "CUSTOMER_ICON_UPDATED",
        f"Icon of customer {customer.name} updated",
        principal=principal,
        obj=customer,
    )
    return customer
