"""Sites of a corporate account's customers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from sodata.access.principal import Principal
from sodata.audit import apply_update, record
from sodata.contacts.service import set_field
from sodata.customers import service as customers
from sodata.kit.errors import Conflict, not_found
from sodata.kit.lookup import contains_text, ensure_unique, get_in_ca, public
from sodata.kit.sorting import apply_sort
from sodata.models import CorporateAccount, Device, DeviceShare, Site
from sodata.sites.schemas import NESTED, SiteCreate, SitePublic, SiteUpdate

SORT_FIELDS = {
    "name": Site.name,
    "technicalName": Site.technical_name,
    "timeZone": Site.time_zone,
    "createdAt": Site.created_at,
}

ALL_DETAILS = frozenset(NESTED)


def devices_quantity():
    """Devices of the site, its own and those shared with it."""
    own = (
        select(func.count(Device.id))
        .where(Device.site_id == Site.id)
        .correlate(Site)
        .scalar_subquery()
    )
    shared = (
        select(func.count()).where(DeviceShare.site_id == Site.id).correlate(Site).scalar_subquery()
    )
    return own + shared


def _loader_options(details: frozenset[str]) -> list[ORMOption]:
    """What `to_public` reads: the customer's uuid, and the contact and address when asked for."""
    options: list[ORMOption] = [joinedload(Site.customer)]
    if "contact" in details:
        options.append(selectinload(Site.contact))
    if "address" in details:
        options.append(selectinload(Site.address))
    return options


def _filter(
    session: Session, ca: CorporateAccount, customer_uuid: uuid.UUID | None
) -> list[ColumnElement[bool]]:
    """The account's sites, of one customer when given: an unknown customer is a 400."""
    conditions = [Site.corporate_account_id == ca.id]
    if customer_uuid is not None:
        customer = customers.get(session, ca, customer_uuid, field="customerUuid")
        conditions.append(Site.customer_id == customer.id)
    return conditions


def query(
    session: Session,
    ca: CorporateAccount,
    customer_uuid: uuid.UUID | None = None,
    sort_by: str | None = None,
    *,
    details: frozenset[str],
    name: str | None = None,
) -> Select:
    """Rows (site, devices quantity), with the nested objects of `details` loaded; with
    `name`, of the sites whose name contains it."""
    stmt = (
        select(Site, devices_quantity())
        .where(*_filter(session, ca, customer_uuid))
        .options(*_loader_options(details))
    )
    if name:
        stmt = stmt.where(contains_text(name, Site.name))
    return apply_sort(stmt, sort_by, SORT_FIELDS, Site.id)


def count(session: Session, ca: CorporateAccount, customer_uuid: uuid.UUID | None) -> int:
    return (
        session.scalar(select(func.count(Site.id)).where(*_filter(session, ca, customer_uuid))) or 0
    )


def to_public(site: Site, devices: int, details: frozenset[str]) -> SitePublic:
    return public(
        SitePublic,
        site,
        customer_uuid=site.customer.uuid,
        devices_quantity=devices,
        address=site.address if "address" in details else None,
        contact=site.contact if "contact" in details else None,
    )


def get(
    session: Session,
    ca: CorporateAccount,
    site_uuid: uuid.UUID,
    field: str | None = None,
) -> Site:
    """The site, or a 404 (a 400 naming `field` when the uuid came in a body or a filter)."""
    return get_in_ca(session, Site, ca, site_uuid, "Site", field)


def get_public(
    session: Session,
    ca: CorporateAccount,
    site_uuid: uuid.UUID,
    details: frozenset[str] = ALL_DETAILS,
) -> SitePublic:
    row = session.execute(
        select(Site, devices_quantity())
        .where(Site.corporate_account_id == ca.id, Site.uuid == site_uuid)
        .options(*_loader_options(details))
    ).first()
    if row is None:
        raise not_found("Site", site_uuid)
    return to_public(row[0], row[1], details)


def _apply(session: Session, ca: CorporateAccount, site: Site, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if key == "customer_uuid":
            site.customer = customers.get(session, ca, value, field="customerUuid")
        else:
            set_field(site, key, value)


def _ensure_unique_name(session: Session, site: Site) -> None:
    ensure_unique(
        session,
        Site.name,
        site.name,
        [Site.customer_id == site.customer.id],
        site.id,
        f"name: customer {site.customer.name} already has a site named {site.name!r}",
    )


def create(session: Session, principal: Principal, ca: CorporateAccount, data: SiteCreate) -> Site:
    site = Site(corporate_account_id=ca.id)
    _apply(session, ca, site, data.changes())
    _ensure_unique_name(session, site)
    session.add(site)
    session.flush()
    record(
        session, ca.id, "SITE_CREATED", f"Site {site.name} created", principal=principal, obj=site
    )
    return site


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    site_uuid: uuid.UUID,
    data: SiteUpdate,
) -> Site:
    """A partial update; logged only when it changes something."""
    site = get(session, ca, site_uuid)
    changes = data.changes()

    def apply() -> None:
        _apply(session, ca, site, changes)
        _ensure_unique_name(session, site)

    apply_update(
        session,
        principal,
        ca.id,
        site,
        changes,
        action="SITE_UPDATED",
        message=lambda: f"Site {site.name} updated",
        apply=apply,
        attributes={"customer_uuid": "customer"},
    )
    return site


def delete(
    session: Session, principal: Principal, ca: CorporateAccount, site_uuid: uuid.UUID
) -> None:
    site = get(session, ca, site_uuid)
    devices = session.scalar(select(func.count(Device.id)).where(Device.site_id == site.id)) or 0
    if devices:
        raise Conflict(f"Site {site.name} still has {devices} device(s); delete or move them first")
    record(
        session, ca.id, "SITE_DELETED", f"Site {site.name} deleted", principal=principal, obj=site
    )
    session.delete(site)
