"""Corporate accounts: the top of the hierarchy, seen through the caller's links."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from sodata.access.principal import Principal, Right, Role
from sodata.access.scope import visible_corporate_accounts
from sodata.audit import apply_update, record
from sodata.corporate_accounts.schemas import (
    CorporateAccountCreate,
    CorporateAccountPublic,
    CorporateAccountUpdate,
)
from sodata.kit.errors import BadRequest, NotFound
from sodata.kit.lookup import by_uuid_or_name, contains_text, ensure_unique, get_in_ca, public
from sodata.kit.sorting import apply_sort
from sodata.models import CorporateAccount, Customer, UserLink

SORT_FIELDS = {"name": CorporateAccount.name, "createdAt": CorporateAccount.created_at}


def find(session: Session, account: str) -> CorporateAccount:
    """The account of this uuid or name (for the operator's commands), or a 404."""
    ca = session.scalar(select(CorporateAccount).where(by_uuid_or_name(CorporateAccount, account)))
    if ca is None:
        raise NotFound(f"Corporate account {account} not found")
    return ca


def query(principal: Principal, sort_by: str | None = None, name: str | None = None) -> Select:
    """The accounts the caller sees; with `name`, those of them whose name contains it."""
    stmt = (
        select(CorporateAccount)
        .where(visible_corporate_accounts(principal))
        .options(selectinload(CorporateAccount.user_links))
    )
    if name:
        stmt = stmt.where(contains_text(name, CorporateAccount.name))
    return apply_sort(stmt, sort_by, SORT_FIELDS, CorporateAccount.id)


def to_public(ca: CorporateAccount, principal: Principal) -> CorporateAccountPublic:
    """`userLinks` lists every link to the account for its admins (and platform operators);
    anyone else sees only their own link there."""
    links = ca.user_links
    if principal.right_in(ca.id) != Right.admin:
        links = [link for link in links if link.user_id == principal.user_id]
    return public(CorporateAccountPublic, ca, user_links=links)


def _check(session: Session, ca: CorporateAccount | None, data: CorporateAccountUpdate) -> None:
    data.changes()  # refuses nulls where the field may not be null
    if data.name is not None:
        # names are unique across accounts: say it is taken, never whose it is
        ensure_unique(
            session,
            CorporateAccount.name,
            data.name,
            [],
            ca.id if ca is not None else None,
            "name: this name is already taken; choose another",
        )
    if data.default_customer_uuid is not None:
        field = "defaultCustomerUuid"
        if ca is None:  # a new account has no customers yet
            raise BadRequest(f"{field}: a new corporate account has no customers yet")
        get_in_ca(session, Customer, ca, data.default_customer_uuid, "Customer", field)


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
    """A partial update; logged only when it changes something."""
    _check(session, ca, data)
    apply_update(
        session,
        principal,
        ca.id,
        ca,
        data.changes(),
        action="CORPORATE_ACCOUNT_UPDATED",
        message=lambda: f"Corporate account {ca.name} updated",
    )
    return ca
