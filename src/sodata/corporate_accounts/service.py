"""Corporate accounts: the top of the hierarchy, seen through the caller's links."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from sodata.access.principal import Principal, Role
from sodata.access.scope import visible_corporate_accounts
from sodata.corporate_accounts.schemas import (
    CorporateAccountCreate,
    CorporateAccountPublic,
    CorporateAccountUpdate,
)
from sodata.kit.errors import BadRequest, Conflict
from sodata.kit.sorting import apply_sort
from sodata.logs.service import record
from sodata.models import CorporateAccount, Customer, UserLink

SORT_FIELDS = {"name": CorporateAccount.name, "createdAt": CorporateAccount.created_at}


def query(principal: Principal, sort_by: str | None = None) -> Select:
    stmt = (
        select(CorporateAccount)
        .where(visible_corporate_accounts(principal))
        .options(selectinload(CorporateAccount.user_links))
    )
    return apply_sort(stmt, sort_by, SORT_FIELDS, CorporateAccount.id)


def to_public(ca: CorporateAccount) -> CorporateAccountPublic:
    return CorporateAccountPublic.model_validate(ca)


def _check(session: Session, ca: CorporateAccount | None, data: CorporateAccountUpdate) -> None:
    data.changes()  # refuses nulls where the field may not be null
    if data.name is not None:
        clash = session.scalar(
            select(CorporateAccount.id).where(CorporateAccount.name == data.name)
        )
        if clash is not None and (ca is None or clash != ca.id):
            raise Conflict(f"name: a corporate account named {data.name!r} already exists")
    if data.default_customer_uuid is not None:
        owner = session.scalar(
            select(Customer.corporate_account_id).where(Customer.uuid == data.default_customer_uuid)
        )
        if ca is None or owner != ca.id:
            raise BadRequest(
                f"defaultCustomerUuid: no customer {data.default_customer_uuid} in this corporate account"
            )


def create(
    session: Session, principal: Principal, data: CorporateAccountCreate
) -> CorporateAccount:
    _check(session, None, data)
    ca = CorporateAccount(**data.changes())
    session.add(ca)
    session.flush()
    if principal.user_id is not None:  # the creator administers what they created
        ca.user_links.append(
            UserLink(user_id=principal.user_id, role=Role.admin, corporate_account_id=ca.id)
        )
    record(
        session,
        ca.id,
        "CORPORATE_ACCOUNT_CREATED",
        f"Corporate account {ca.name} created",
        principal=principal,
        obj=ca,
    )
    session.flush()
    return ca


def update(
    session: Session, principal: Principal, ca: CorporateAccount, data: CorporateAccountUpdate
) -> CorporateAccount:
    _check(session, ca, data)
    for key, value in data.changes().items():
        setattr(ca, key, value)
    session.flush()
    record(
        session,
        ca.id,
        "CORPORATE_ACCOUNT_UPDATED",
        f"Corporate account {ca.name} updated",
        principal=principal,
        obj=ca,
        details={"fields": sorted(data.model_fields_set)},
    )
    return ca
