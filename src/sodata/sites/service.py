"""Sites of a corporate account's customers."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from sodata.access.principal import Principal
from sodata.customers import service as customers
from sodata.kit.contacts import apply_address, apply_contact
from sodata.kit.errors import BadRequest, Conflict, NotFound, not_found
from sodata.kit.sorting import apply_sort
from sodata.logs.service import record
from sodata.models import CorporateAccount, Customer, Device, DeviceShare, Site
from sodata.sites.schemas import SiteCreate, SitePublic, SiteUpdate

SORT_FIELDS = {
    "name": Site.name,
    "technicalName": Site.technical_name,
    "timeZone": Site.time_zone,
    "createdAt": Site.created_at,
}


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


def query(
    ca: CorporateAccount, customer_uuid: uuid.UUID | None = None, sort_by: str | None = None
) -> Select:
    stmt = select(Site, devices_quantity()).where(Site.corporate_account_id == ca.id)
    if customer_uuid is not None:
        stmt = stmt.where(Site.customer_id == _customer_id(ca, customer_uuid))
    return apply_sort(stmt, sort_by, SORT_FIELDS, Site.id)


def _customer_id(ca: CorporateAccount, customer_uuid: uuid.UUID):
    return (
        select(Customer.id)
        .where(Customer.corporate_account_id == ca.id, Customer.uuid == customer_uuid)
        .scalar_subquery()
    )


def count(session: Session, ca: CorporateAccount, customer_uuid: uuid.UUID | None) -> int:
    stmt = select(func.count(Site.id)).where(Site.corporate_account_id == ca.id)
    if customer_uuid is not None:
        stmt = stmt.where(Site.customer_id == _customer_id(ca, customer_uuid))
    return session.scalar(stmt) or 0


def to_public(site: Site, devices: int) -> SitePublic:
    return SitePublic.model_validate(
        {
            **{f: getattr(site, f) for f in SitePublic.model_fields if hasattr(site, f)},
            "customer_uuid": site.customer.uuid,
            "devices_quantity": devices,
        }
    )


def get(
    session: Session, ca: CorporateAccount, site_uuid: uuid.UUID, field: str | None = None
) -> Site:
    """The site, or a 404 (a 400 naming `field` when the uuid came in a request body)."""
    site = session.scalar(
        select(Site).where(Site.corporate_account_id == ca.id, Site.uuid == site_uuid)
    )
    if site is None:
        if field:
            raise BadRequest(f"{field}: no site {site_uuid} in this corporate account")
        raise not_found("Site", site_uuid)
    return site


def get_public(session: Session, ca: CorporateAccount, site_uuid: uuid.UUID) -> SitePublic:
    site = get(session, ca, site_uuid)
    return to_public(
        site, session.execute(select(devices_quantity()).where(Site.id == site.id)).scalar_one()
    )


def _apply(session: Session, ca: CorporateAccount, site: Site, data: SiteUpdate) -> None:
    for key, value in data.changes().items():
        if key == "customer_uuid":
            try:
                site.customer = customers.get(session, ca, value)
            except NotFound:
                raise BadRequest(
                    f"customerUuid: no customer {value} in this corporate account"
                ) from None
        elif key == "address":
            site.address = apply_address(site.address, value)
        elif key == "contact":
            site.contact = apply_contact(site.contact, value)
        else:
            setattr(site, key, value)


def _ensure_unique_name(session: Session, site: Site) -> None:
    stmt = select(Site.id).where(Site.customer_id == site.customer.id, Site.name == site.name)
    if site.id is not None:
        stmt = stmt.where(Site.id != site.id)
    if session.scalar(stmt) is not None:
        raise Conflict(
            f"name: customer {site.customer.name} already has a site named {site.name!r}"
        )


def create(session: Session, principal: Principal, ca: CorporateAccount, data: SiteCreate) -> Site:
    site = Site(corporate_account_id=ca.id)
    _apply(session, ca, site, data)
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
    site = get(session, ca, site_uuid)
    with session.no_autoflush:
        _apply(session, ca, site, data)
        _ensure_unique_name(session, site)
    session.flush()
    record(
        session,
        ca.id,
        "SITE_UPDATED",
        f"Site {site.name} updated",
        principal=principal,
        obj=site,
        details={"fields": sorted(data.model_fields_set)},
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
