"""Customers of a corporate account: queries and changes."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sodata.access.principal import Principal
from sodata.customers.schemas import CustomerCreate, CustomerPublic, CustomerUpdate
from sodata.kit.contacts import apply_address, apply_contact
from sodata.kit.errors import Conflict, not_found
from sodata.kit.sorting import apply_sort
from sodata.logs.service import record
from sodata.models import CorporateAccount, Customer, Icon, Site

SORT_FIELDS = {
    "name": Customer.name,
    "technicalName": Customer.technical_name,
    "reference": Customer.reference,
    "createdAt": Customer.created_at,
}


def sites_quantity():
    return (
        select(func.count(Site.id))
        .where(Site.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )


def query(ca: CorporateAccount, sort_by: str | None = None) -> Select:
    stmt = select(Customer, sites_quantity()).where(Customer.corporate_account_id == ca.id)
    return apply_sort(stmt, sort_by, SORT_FIELDS, Customer.id)


def to_public(customer: Customer, sites: int) -> CustomerPublic:
    return CustomerPublic.model_validate(
        {
            **{
                f: getattr(customer, f) for f in CustomerPublic.model_fields if hasattr(customer, f)
            },
            "corporate_account_uuid": customer.corporate_account.uuid,
            "icon_uuid": customer.icon.uuid if customer.icon else None,
            "sites_quantity": sites,
        }
    )


def get(session: Session, ca: CorporateAccount, customer_uuid: uuid.UUID) -> Customer:
    customer = session.scalar(
        select(Customer).where(
            Customer.corporate_account_id == ca.id, Customer.uuid == customer_uuid
        )
    )
    if customer is None:
        raise not_found("Customer", customer_uuid)
    return customer


def get_public(session: Session, ca: CorporateAccount, customer_uuid: uuid.UUID) -> CustomerPublic:
    customer = get(session, ca, customer_uuid)
    return to_public(
        customer,
        session.scalar(select(func.count(Site.id)).where(Site.customer_id == customer.id)) or 0,
    )


def _ensure_unique_name(
    session: Session, ca: CorporateAccount, name: str, exclude_id: int | None = None
) -> None:
    stmt = select(Customer.id).where(Customer.corporate_account_id == ca.id, Customer.name == name)
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    if session.scalar(stmt) is not None:
        raise Conflict(f"name: a customer named {name!r} already exists in this corporate account")


def _apply(customer: Customer, data: CustomerUpdate) -> None:
    for key, value in data.changes().items():
        if key == "company_address":
            customer.company_address = apply_address(customer.company_address, value)
        elif key == "contact":
            customer.contact = apply_contact(customer.contact, value)
        else:
            setattr(customer, key, value)


def create(
    session: Session, principal: Principal, ca: CorporateAccount, data: CustomerCreate
) -> Customer:
    _ensure_unique_name(session, ca, data.name)
    customer = Customer(corporate_account=ca, corporate_account_id=ca.id)
    _apply(customer, data)
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
    customer = get(session, ca, customer_uuid)
    if data.name is not None:
        _ensure_unique_name(session, ca, data.name, exclude_id=customer.id)
    _apply(customer, data)
    session.flush()
    record(
        session,
        ca.id,
        "CUSTOMER_UPDATED",
        f"Customer {customer.name} updated",
        principal=principal,
        obj=customer,
        details={"fields": sorted(data.model_fields_set)},
    )
    return customer


def delete(
    session: Session, principal: Principal, ca: CorporateAccount, customer_uuid: uuid.UUID
) -> None:
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
    session.delete(customer)


def set_icon(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    customer_uuid: uuid.UUID,
    icon: Icon,
) -> Customer:
    customer = get(session, ca, customer_uuid)
    if customer.icon is not None:
        session.delete(customer.icon)
    customer.icon = icon
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
