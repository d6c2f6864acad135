"""Devices of a corporate account: queries, changes and their lifecycle.

A device is PENDING once pre-created (known by its serial number, in no site), ACCEPTED
once created in or linked to a site, DEACTIVATED when an operator stops it. A device
belongs to one site and may be shared with other sites of the account (DeviceShare).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from pydantic import TypeAdapter
from sqlalchemy import BindParameter, Boolean, Select, bindparam, literal, or_, select
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.engine import CursorResult, Row
from sqlalchemy.orm import Session, aliased, joinedload, selectinload
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from sodata.access.data import readable_devices
from sodata.access.principal import Principal
from sodata.audit import apply_update, record
from sodata.catalog.service import device_type_by_uuid
from sodata.contacts.service import set_field
from sodata.customers import service as customers
from sodata.devices import profile
from sodata.devices.schemas import (
    NESTED,
    DeviceCreate,
    DeviceLink,
    DevicePreCreate,
    DevicePublic,
    DeviceSharePublic,
    DevicesRepaired,
    DeviceUpdate,
)
from sodata.icons.service import delete_icon
from sodata.icons.service import set_icon as replace_icon
from sodata.kit.db import lock_row
from sodata.kit.errors import BadRequest, Conflict, NotFound, not_found
from sodata.kit.lookup import contains_text, get_in_ca, like_literal
from sodata.kit.sorting import apply_sort
from sodata.models import (
    Address,
    Contact,
    CorporateAccount,
    Device,
    DeviceShare,
    DeviceType,
    Icon,
    Item,
    Site,
    Variable,
)
from sodata.sites import service as sites

SORT_FIELDS = {
    "name": Device.name,
    "serialNumber": Device.serial_number,
    "technicalName": Device.technical_name,
    "status": Device.status,
    "creationType": Device.creation_type,
    "timeZone": Device.time_zone,
    "createdAt": Device.created_at,
}

ALL_DETAILS = frozenset(NESTED)


def _icon_uuid() -> ScalarSelect[uuid.UUID]:
    return select(Icon.uuid).where(Icon.id == Device.icon_id).correlate(Device).scalar_subquery()


_SITE, _GATEWAY = aliased(Site), aliased(Device)  # aliases: filters' subqueries stay apart
# DevicePublic's fields that are columns of the device itself
_COLUMNS = [getattr(Device, f) for f in DevicePublic.model_fields if f in Device.__table__.c]


def _select(owned: ColumnElement[bool] | None = None) -> Select:
    """Rows of plain columns named as DevicePublic's fields (no ORM object per device): the
    device's, its type's, its site's and gateway's uuids, its icon's uuid, and `owned`."""
    owned = literal(True, Boolean) if owned is None else owned
    return (
        select(
            *_COLUMNS,
            DeviceType.uuid.label("device_type_uid"),
            DeviceType.reference_id.label("device_type_reference_id"),
            DeviceType.manufacturer,
            DeviceType.model_name,
            _SITE.uuid.label("site_uuid"),
            _GATEWAY.uuid.label("gateway_uuid"),
            _icon_uuid().label("icon_uuid"),
            owned.label("owned"),
            Device.contact_id,
            Device.address_id,
        )
        .join(DeviceType, DeviceType.id == Device.device_type_id)
        .outerjoin(_SITE, _SITE.id == Device.site_id)
        .outerjoin(_GATEWAY, _GATEWAY.id == Device.gateway_id)
    )


def query(
    session: Session,
    ca: CorporateAccount,
    *,
    site_uuid: uuid.UUID | None = None,
    customer_uuid: uuid.UUID | None = None,
    serial_number: str | None = None,
    status: str | None = None,
    name: str | None = None,
    gateway_uuid: uuid.UUID | None = None,
    readable_by: Principal | None = None,
    sort_by: str | None = None,
) -> tuple[Select, dict[str, Any]]:
    """Rows of `_select()` and their bind parameters. With a site: its own devices and those
    shared with it; with `name`: the devices whose name or serial number contains it; with a
    gateway: the devices behind it; with `readable_by`: only the devices whose data that caller
    may read. A site, customer or gateway filter naming nothing in the account is a 400 naming
    the parameter."""
    params: dict[str, Any] = {"ca": ca.id}
    if site_uuid is not None:
        params["site"] = sites.get(session, ca, site_uuid, field="siteUuid").id
    if customer_uuid is not None:
        params["customer"] = customers.get(session, ca, customer_uuid, field="customerUuid").id
    if serial_number is not None:
        params["serial"] = serial_number
    if status is not None:
        params["status"] = status
    if name:
        params["name"] = like_literal(name)
    if gateway_uuid is not None:
        params["gateway"] = get(session, ca, gateway_uuid, field="gatewayUuid").id
    stmt = _listing(frozenset(params), sort_by)
    if readable_by is not None:  # depends on the caller: added to the shape built once
        stmt = stmt.where(readable_devices(readable_by, ca))
    return stmt, params


@functools.lru_cache(maxsize=256)
def _listing(filters: frozenset[str], sort_by: str | None) -> Select:
    """The listing of devices filtered by `filters` (bind parameters of the same names), built
    once per shape: building it took longer than running it."""
    if "site" in filters:
        site: BindParameter[int] = bindparam("site")
        shared = select(DeviceShare.device_id).where(DeviceShare.site_id == site)
        stmt = _select(Device.site_id == site).where(
            or_(Device.site_id == site, Device.id.in_(shared))
        )
    else:
        stmt = _select()
    stmt = stmt.where(Device.corporate_account_id == bindparam("ca"))
    if "customer" in filters:
        of_customer = select(Site.id).where(Site.customer_id == bindparam("customer"))
        stmt = stmt.where(Device.site_id.in_(of_customer))
    if "serial" in filters:
        stmt = stmt.where(Device.serial_number == bindparam("serial"))
    if "status" in filters:
        stmt = stmt.where(Device.status == bindparam("status"))
    if "name" in filters:
        stmt = stmt.where(contains_text(bindparam("name"), Device.name, Device.serial_number))
    if "gateway" in filters:
        stmt = stmt.where(Device.gateway_id == bindparam("gateway"))
    return apply_sort(stmt, sort_by, SORT_FIELDS, Device.id)


_PUBLIC = TypeAdapter(list[DevicePublic])


def to_public(
    session: Session, rows: Sequence[Row[Any]], details: frozenset[str] = frozenset()
) -> list[DevicePublic]:
    """The wire models of rows of `_select()`, with the asked-for contacts and addresses (one
    query per kind for all the rows)."""
    keys = rows[0]._fields if rows else ()
    mappings = [dict(zip(keys, row, strict=True)) for row in rows]
    for name, model in (("contact", Contact), ("address", Address)):
        ids = {m[f"{name}_id"] for m in mappings} - {None} if name in details else set()
        found: Iterable[Contact | Address] = (
            session.scalars(select(model).where(model.id.in_(ids))) if ids else ()
        )
        by_id = {obj.id: obj for obj in found}
        for m in mappings:
            m[name] = by_id.get(m[f"{name}_id"])
    return _PUBLIC.validate_python(mappings)


def get(
    session: Session,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    field: str | None = None,
    options: Sequence[ORMOption] = (),
) -> Device:
    """The device, or a 404 (a 400 naming `field` when the uuid came in a body or a filter)."""
    return get_in_ca(session, Device, ca, device_uuid, "Device", field, options)


def get_public(
    session: Session,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    details: frozenset[str] = ALL_DETAILS,
) -> DevicePublic:
    """The device as its own site sees it (owned); a change answers it with contact and address."""
    stmt = _select().where(Device.corporate_account_id == ca.id, Device.uuid == device_uuid)
    row = session.execute(stmt).first()
    if row is None:
        raise not_found("Device", device_uuid)
    return to_public(session, [row], details)[0]


def _by_serial(session: Session, ca: CorporateAccount, serial_number: str) -> Device | None:
    return session.scalar(
        select(Device).where(
            Device.corporate_account_id == ca.id, Device.serial_number == serial_number
        )
    )


def _ensure_unique_serial(
    session: Session, ca: CorporateAccount, serial: str, device_id: int | None = None
) -> None:
    other = _by_serial(session, ca, serial)
    if other is not None and other.id != device_id:
        raise Conflict(f"serialNumber: device {other.uuid} already has serial number {serial!r}")


def _set_gateway(session: Session, device: Device, gateway: Device | None, field: str) -> None:
    """Attach `device` to `gateway`: a gateway device, never itself or one of its descendants."""
    if gateway is None:
        if device.gateway_id is not None:
            device.gateway = None
        return
    if device.id is not None and gateway.id == device.gateway_id:
        return
    if not gateway.device_type.is_gateway:
        raise BadRequest(
            f"{field}: device {gateway.uuid} is a {gateway.device_type.name}, not a gateway device"
        )
    if device.id is not None and _descends_from(session, gateway, device.id):
        raise BadRequest(f"{field}: a device cannot be its own gateway, directly or through others")
    device.gateway = gateway


def _descends_from(session: Session, gateway: Device, device_id: int) -> bool:
    """Whether `gateway` is the device or reports to it through other gateways.

    Two requests making A and B each other's gateway would each see no cycle and both
    succeed; so the account's gateway changes take turns (its row is locked until commit)
    and the chain is read again from the database, not from rows loaded before the lock."""
    lock_row(session, CorporateAccount.id, gateway.corporate_account_id)
    ancestor_id: int | None = gateway.id
    seen: set[int] = set()
    with session.no_autoflush:
        while ancestor_id is not None and ancestor_id not in seen:
            if ancestor_id == device_id:
                return True
            seen.add(ancestor_id)
            ancestor_id = session.scalar(select(Device.gateway_id).where(Device.id == ancestor_id))
    return False


def _gateway_by_uuid(session: Session, ca: CorporateAccount, gateway_uuid: uuid.UUID) -> Device:
    return get(session, ca, gateway_uuid, field="gatewayUuid")


def _move(
    session: Session, ca: CorporateAccount, device: Device, site_uuid: uuid.UUID | None
) -> None:
    if site_uuid is None:
        raise BadRequest("siteUuid: may not be null; a device stays in a site once linked")
    site = sites.get(session, ca, site_uuid, field="siteUuid")
    if device.site_id is None:
        raise Conflict(
            f"Device {device.name} is not in a site yet; link it with POST /devices/link "
            "and the site's activationKey"
        )
    if site.id != device.site_id:
        # a device shared with its new site is now that site's own device
        session.execute(
            sql_delete(DeviceShare).where(
                DeviceShare.device_id == device.id, DeviceShare.site_id == site.id
            )
        )
        device.site = site


def _apply(session: Session, ca: CorporateAccount, device: Device, changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if key == "site_uuid":
            _move(session, ca, device, value)
        elif key == "gateway_uuid":
            gateway = None if value is None else _gateway_by_uuid(session, ca, value)
            _set_gateway(session, device, gateway, "gatewayUuid")
        elif key == "serial_number":
            _ensure_unique_serial(session, ca, value, device.id)
            device.serial_number = value
        else:
            set_field(device, key, value)


# DeviceCreate fields that `create` has already used
_SET_AT_CREATION = {"name", "serial_number", "site_uuid", "device_type_uid"}


def _new_device(
    ca: CorporateAccount, device_type: DeviceType, serial: str, name: str | None
) -> Device:
    return Device(
        corporate_account_id=ca.id,
        device_type=device_type,
        serial_number=serial,
        name=name or serial,
        configuration_key=device_type.configuration_key,
    )


def create(
    session: Session, principal: Principal, ca: CorporateAccount, data: DeviceCreate
) -> Device:
    """A device in a site, ACCEPTED, with its type's profile applied at once."""
    site = sites.get(session, ca, data.site_uuid, field="siteUuid")
    device_type = device_type_by_uuid(session, data.device_type_uid)
    _ensure_unique_serial(session, ca, data.serial_number)
    device = _new_device(ca, device_type, data.serial_number, data.name)
    device.site = site
    device.time_zone = site.time_zone
    device.status, device.creation_type = "ACCEPTED", "CREATED"
    given = {k: v for k, v in data.changes().items() if k not in _SET_AT_CREATION}
    with session.no_autoflush:
        _apply(session, ca, device, given)
    session.add(device)
    session.flush()
    created = profile.apply_profile(session, device)
    record(
        session,
        ca.id,
        "DEVICE_CREATED",
        f"Device {device.name} created in site {site.name}",
        principal=principal,
        obj=device,
        details={"createdVariables": len(created)},
    )
    return device


def pre_create(
    session: Session, principal: Principal, ca: CorporateAccount, data: DevicePreCreate
) -> Device:
    """A device known by its serial number only: PENDING until it is linked to a site."""
    device_type = device_type_by_uuid(session, data.device_type_uid)
    _ensure_unique_serial(session, ca, data.serial_number)
    device = _new_device(ca, device_type, data.serial_number, data.name)
    device.status, device.creation_type = "PENDING", "PRE_CREATED"
    session.add(device)
    session.flush()
    record(
        session,
        ca.id,
        "DEVICE_PRE_CREATED",
        f"Device {device.name} pre-created",
        principal=principal,
        obj=device,
    )
    return device


def link(
    session: Session, principal: Principal, ca: CorporateAccount, data: DeviceLink
) -> tuple[Device, bool]:
    """Attach a device to the site holding the activation key; True when it had to be created."""
    site = session.scalar(
        select(Site).where(
            Site.corporate_account_id == ca.id, Site.activation_key == data.activation_key
        )
    )
    if site is None:
        raise BadRequest(
            f"activationKey: no site of this corporate account has activation key "
            f"{data.activation_key}; copy it from GET /sites/{{siteUuid}}"
        )
    gateway = None
    if data.gateway_serial_number is not None:
        gateway = _by_serial(session, ca, data.gateway_serial_number)
        if gateway is None:
            raise BadRequest(
                f"gatewaySerialNumber: no device with serial number {data.gateway_serial_number!r} "
                "in this corporate account; link the gateway first"
            )
    device = _by_serial(session, ca, data.serial_number)
    if device is not None and device.site_id == site.id:
        return _relink(session, principal, ca, device, gateway), False
    if device is None:
        device = _register(session, ca, site, data)
        created = True
    else:
        _check_linkable(device, data)
        created = False
        if data.name is not None:
            device.name = data.name
    device.site = site
    device.time_zone = site.time_zone
    if device.status != "DEACTIVATED":  # linking does not undo an operator's deactivation
        device.status = "ACCEPTED"
    device.creation_type = "LINKED"
    _set_gateway(session, device, gateway, "gatewaySerialNumber")
    session.flush()
    variables = profile.apply_profile(session, device)
    record(
        session,
        ca.id,
        "DEVICE_LINKED",
        f"Device {device.name} linked to site {site.name}",
        principal=principal,
        obj=device,
        details={"created": created, "createdVariables": len(variables)},
    )
    return device, created


def _check_linkable(device: Device, data: DeviceLink) -> None:
    """A known device links only if it is in no site yet and has the type the caller expects."""
    if device.site is not None:
        raise Conflict(
            f"serialNumber: device {device.uuid} ({device.serial_number}) is already in site "
            f"{device.site.name}; move it with PUT /devices/{device.uuid} and a siteUuid"
        )
    if data.device_type_uid is not None and data.device_type_uid != device.device_type.uuid:
        raise Conflict(
            f"deviceTypeUid: device {device.serial_number} was pre-created as a "
            f"{device.device_type.name} ({device.device_type.uuid}); link it without "
            "deviceTypeUid, or delete and pre-create it again"
        )


def _relink(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device: Device,
    gateway: Device | None,
) -> Device:
    """Linking a device to its own site again (a gateway retrying): only the gateway may change."""
    if gateway is not None and gateway.id != device.gateway_id:
        _set_gateway(session, device, gateway, "gatewaySerialNumber")
        session.flush()
        record(
            session,
            ca.id,
            "DEVICE_UPDATED",
            f"Device {device.name} now reports through {gateway.name}",
            principal=principal,
            obj=device,
            details={"fields": ["gatewayUuid"]},
        )
    return device


def _register(session: Session, ca: CorporateAccount, site: Site, data: DeviceLink) -> Device:
    """A device unknown until it links itself, if the site allows automatic registration."""
    if data.device_type_uid is None:
        raise BadRequest(
            f"deviceTypeUid: required, since no device has serial number {data.serial_number!r} "
            "in this corporate account (or pre-create it first)"
        )
    device_type = device_type_by_uuid(session, data.device_type_uid)
    allowed, setting = (
        (site.auto_gateways_registration, "autoGatewaysRegistration")
        if device_type.is_gateway
        else (site.auto_products_registration, "autoProductsRegistration")
    )
    if not allowed:
        raise Conflict(
            f"Site {site.name} does not register unknown devices ({setting} is false); "
            f"pre-create device {data.serial_number} first, or set {setting} on the site"
        )
    device = _new_device(ca, device_type, data.serial_number, data.name)
    session.add(device)
    return device


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    data: DeviceUpdate,
) -> Device:
    """A partial update; logged (and updatedAt set) only when it changes something."""
    device = get(session, ca, device_uuid)
    changes = data.changes()
    apply_update(
        session,
        principal,
        ca.id,
        device,
        changes,
        action="DEVICE_UPDATED",
        message=lambda: f"Device {device.name} updated",
        apply=lambda: _apply(session, ca, device, changes),
        attributes={"site_uuid": "site", "gateway_uuid": "gateway"},
    )
    return device


def delete(
    session: Session, principal: Principal, ca: CorporateAccount, device_uuid: uuid.UUID
) -> None:
    """Remove the device with its items, variables, shares and icon; children lose their gateway.
    Deletes in one account take turns, so a second concurrent delete answers 404."""
    lock_row(session, CorporateAccount.id, ca.id)
    device = get(session, ca, device_uuid)
    detached = session.execute(
        sql_update(Device).where(Device.gateway_id == device.id).values(gateway_id=None)
    )
    children = cast(CursorResult[Any], detached).rowcount  # an UPDATE's result: a cursor's
    session.execute(sql_delete(Variable).where(Variable.device_id == device.id))
    session.execute(sql_delete(Item).where(Item.device_id == device.id))
    session.execute(sql_delete(DeviceShare).where(DeviceShare.device_id == device.id))
    record(
        session,
        ca.id,
        "DEVICE_DELETED",
        f"Device {device.name} deleted",
        principal=principal,
        obj=device,
        details={"serialNumber": device.serial_number, "detachedChildren": children},
    )
    delete_icon(session, device)
    session.delete(device)
    session.flush()


def _require_site(device: Device, action: str) -> None:
    if device.site_id is None:
        raise Conflict(
            f"Device {device.name} is not in a site yet, so it cannot be {action}; "
            "link it first with POST /devices/link and the site's activationKey"
        )


def set_status(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    status: str,
) -> Device:
    """ACCEPTED (activate) or DEACTIVATED (deactivate); logged when the status changes."""
    device = get(session, ca, device_uuid)
    if status == "ACCEPTED":
        _require_site(device, "activated")
    if device.status != status:
        before, device.status = device.status, status
        device.updated_at = datetime.now(UTC)
        session.flush()
        action = "DEVICE_ACTIVATED" if status == "ACCEPTED" else "DEVICE_DEACTIVATED"
        verb = "activated" if status == "ACCEPTED" else "deactivated"
        record(
            session,
            ca.id,
            action,
            f"Device {device.name} {verb}",
            principal=principal,
            obj=device,
            details={"from": before, "to": status},
        )
    return device


def reapply_profile(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    reset_settings: bool,
) -> Device:
    """push-profile (reset_settings) or repair: give the device its type's profile again."""
    device = get(session, ca, device_uuid)
    _require_site(device, "given its profile")
    created = profile.apply_profile(session, device, reset_settings=reset_settings)
    action, what = (
        ("DEVICE_PROFILE_PUSHED", "pushed to")
        if reset_settings
        else ("DEVICE_REPAIRED", "repaired on")
    )
    record(
        session,
        ca.id,
        action,
        f"Profile {what} device {device.name}",
        principal=principal,
        obj=device,
        details={"createdVariables": len(created)},
    )
    return device


def repair_all(session: Session, principal: Principal, ca: CorporateAccount) -> DevicesRepaired:
    """Repair every device of the account, in a site, whose profile is not up to date."""
    devices = session.scalars(
        select(Device)
        .where(
            Device.corporate_account_id == ca.id,
            Device.site_id.is_not(None),
            Device.profile_is_up_to_date.is_(False),
        )
        .order_by(Device.id)
        .options(selectinload(Device.device_type).selectinload(DeviceType.profile))
    ).all()
    created = sum(len(new) for new in profile.apply_profiles(session, devices).values())
    result = DevicesRepaired(
        repaired_devices=len(devices), devices=[d.uuid for d in devices], created_variables=created
    )
    record(
        session,
        ca.id,
        "DEVICES_REPAIRED",
        f"{len(devices)} device(s) repaired",
        principal=principal,
        object_type="Device",
        details={"devices": [str(d.uuid) for d in devices], "createdVariables": created},
    )
    return result


def share(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    site_uuid: uuid.UUID,
) -> DeviceSharePublic:
    """Make the device visible in another site of the account."""
    device = get(session, ca, device_uuid)
    site = sites.get(session, ca, site_uuid)
    _require_site(device, "shared")
    if device.site_id == site.id:
        raise BadRequest(
            f"siteUuid: site {site.name} is the device's own site; share it with another site"
        )
    if session.get(DeviceShare, (device.id, site.id)) is not None:
        raise Conflict(f"Device {device.name} is already shared with site {site.name}")
    shared = DeviceShare(device_id=device.id, site_id=site.id)
    session.add(shared)
    session.flush()
    record(
        session,
        ca.id,
        "DEVICE_SHARED",
        f"Device {device.name} shared with site {site.name}",
        principal=principal,
        obj=device,
        details={"siteUuid": str(site.uuid)},
    )
    return DeviceSharePublic(
        device_uuid=device.uuid, site_uuid=site.uuid, created_at=shared.created_at
    )


def cancel_share(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    site_uuid: uuid.UUID,
) -> None:
    device = get(session, ca, device_uuid)
    site = sites.get(session, ca, site_uuid)
    shared = session.get(DeviceShare, (device.id, site.id))
    if shared is None:
        raise not_found(f"Sharing of device {device.uuid} with site", site.uuid)
    session.delete(shared)
    session.flush()
    record(
        session,
        ca.id,
        "DEVICE_SHARE_CANCELLED",
        f"Device {device.name} no longer shared with site {site.name}",
        principal=principal,
        obj=device,
        details={"siteUuid": str(site.uuid)},
    )


def gateway_of(session: Session, ca: CorporateAccount, device_uuid: uuid.UUID) -> uuid.UUID:
    device = get(session, ca, device_uuid, options=[joinedload(Device.gateway)])
    if device.gateway is None:
        raise NotFound(f"Device {device_uuid} has no gateway")
    return device.gateway.uuid


def set_icon(
    session: Session, principal: Principal, ca: CorporateAccount, device_uuid: uuid.UUID, icon: Icon
) -> Device:
    device = get(session, ca, device_uuid)
    replace_icon(session, device, icon)
    session.flush()
    record(
        session,
        ca.id,
        "DEVICE_ICON_UPDATED",
        f"Icon of device {device.name} updated",
        principal=principal,
        obj=device,
    )
    return device
