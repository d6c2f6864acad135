"""Items of a device: the parts (Global, Unit, Load, ...) its variables belong to."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import Select, func, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from sodata.access.principal import Principal
from sodata.audit import apply_update, record
from sodata.items.schemas import ItemCreate, ItemPublic, ItemsList, ItemUpdate
from sodata.kit.errors import Conflict, not_found
from sodata.kit.lookup import get_in_ca
from sodata.models import CorporateAccount, Device, Item, Variable


def variables_quantity():
    return (
        select(func.count(Variable.id))
        .where(Variable.item_id == Item.id)
        .correlate(Item)
        .scalar_subquery()
    )


def _query(device: Device) -> Select:
    return (
        select(Item, variables_quantity())
        .where(Item.device_id == device.id)
        .order_by(Item.item_type, Item.index, Item.id)
    )


def to_public(item: Item, device: Device, variables: int) -> ItemPublic:
    return ItemPublic(
        uuid=item.uuid,
        id=item.id,
        device_uuid=device.uuid,
        item_type=item.item_type,
        index=str(item.index),
        name=item.name,
        custom=item.custom,
        variables_quantity=variables,
        created_at=item.created_at,
    )


def list_public(session: Session, ca: CorporateAccount, device_uuid: uuid.UUID) -> ItemsList:
    device = _device(session, ca, device_uuid)
    results = [to_public(item, device, n) for item, n in session.execute(_query(device))]
    return ItemsList(results=results, total=len(results))


def _device(session: Session, ca: CorporateAccount, device_uuid: uuid.UUID) -> Device:
    """The device whose items are asked for, or a 404 (as devices.get, which items cannot
    import: devices import items, to create those of their profile)."""
    return get_in_ca(session, Device, ca, device_uuid, "Device")


def get(session: Session, device: Device, item_uuid: uuid.UUID) -> Item:
    item = session.scalar(select(Item).where(Item.device_id == device.id, Item.uuid == item_uuid))
    if item is None:
        raise not_found("Item", item_uuid)
    return item


def get_public(
    session: Session, ca: CorporateAccount, device_uuid: uuid.UUID, item_uuid: uuid.UUID
) -> ItemPublic:
    device = _device(session, ca, device_uuid)
    row = session.execute(_query(device).where(Item.uuid == item_uuid)).one_or_none()
    if row is None:
        raise not_found("Item", item_uuid)
    return to_public(row[0], device, row[1])


def label(item_type: str, index: int) -> str:
    return f"{item_type}|{index}"


def items_by_device(
    session: Session, device_ids: Collection[int]
) -> dict[int, dict[tuple[str, int], Item]]:
    """The items of these devices, by device id and then (type, index), in one query."""
    found: dict[int, dict[tuple[str, int], Item]] = {}
    for item in session.scalars(select(Item).where(Item.device_id.in_(device_ids))):
        found.setdefault(item.device_id, {})[item.item_type, item.index] = item
    return found


def ensure_items(
    session: Session,
    device: Device,
    keys: Iterable[tuple[str, int]],
    items: dict[tuple[str, int], Item] | None = None,
) -> dict[tuple[str, int], Item]:
    """The device's items of these (type, index) keys, adding the missing ones to the session
    (not flushed: refer to a new item by object, `Variable(item=...)`, not by id). `items` are
    the device's items when the caller has them already, or else they are read (one query)."""
    if items is None:
        items = items_by_device(session, [device.id]).get(device.id, {})
    for item_type, index in keys:
        if (item_type, index) not in items:
            items[item_type, index] = item = Item(
                device_id=device.id, item_type=item_type, index=index
            )
            session.add(item)
    return items


def create(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    data: ItemCreate,
) -> Item:
    device = _device(session, ca, device_uuid)
    clash = session.scalar(
        select(Item.uuid).where(
            Item.device_id == device.id, Item.item_type == data.item_type, Item.index == data.index
        )
    )
    if clash is not None:
        raise Conflict(
            f"Device {device.name} already has item {label(data.item_type, data.index)} ({clash}); "
            "use another index or update that item"
        )
    item = Item(device_id=device.id, item_type=data.item_type, index=data.index)
    for key, value in data.changes().items():
        if key not in ("item_type", "index"):
            setattr(item, key, value)
    session.add(item)
    session.flush()
    record(
        session,
        ca.id,
        "ITEM_CREATED",
        f"Item {label(item.item_type, item.index)} of device {device.name} created",
        principal=principal,
        obj=item,
    )
    return item


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    item_uuid: uuid.UUID,
    data: ItemUpdate,
) -> Item:
    """A partial update; logged only when it changes something."""
    device = _device(session, ca, device_uuid)
    item = get(session, device, item_uuid)
    apply_update(
        session,
        principal,
        ca.id,
        item,
        data.changes(),
        action="ITEM_UPDATED",
        message=lambda: f"Item {label(item.item_type, item.index)} of device {device.name} updated",
    )
    return item


def delete(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    item_uuid: uuid.UUID,
) -> None:
    """Delete the item and its variables; losing profile variables puts the profile out of date."""
    device = _device(session, ca, device_uuid)
    item = get(session, device, item_uuid)
    sources = set(
        session.scalars(select(Variable.source).where(Variable.item_id == item.id).distinct())
    )
    if "PROFILE" in sources:
        device.profile_is_up_to_date = False
    session.execute(
        sql_delete(Variable).where(Variable.item_id == item.id),
        execution_options={"synchronize_session": False},
    )
    record(
        session,
        ca.id,
        "ITEM_DELETED",
        f"Item {label(item.item_type, item.index)} of device {device.name} deleted",
        principal=principal,
        obj=item,
    )
    session.delete(item)
    session.flush()
