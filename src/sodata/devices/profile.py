"""A device type's profile applied to a device: the items and variables it prescribes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.models import Device, Item, Variable


def apply_profile(session: Session, device: Device, reset_settings: bool = False) -> list[Variable]:
    """Create the profile's items and variables that `device` lacks; return the new variables.

    With `reset_settings` (push-profile), profile variables that exist get the profile's
    pollingTime, sendOnUpdate and isComputed back, and are active again. Variables
    added by users are never touched. The device's profile is then up to date.
    """
    items = {
        (i.item_type, i.index): i
        for i in session.scalars(select(Item).where(Item.device_id == device.id))
    }
    existing = {
        (v.item_id, v.service_id): v
        for v in session.scalars(select(Variable).where(Variable.device_id == device.id))
    }
    created: list[Variable] = []
    for entry in device.device_type.profile:
        key = (entry.item_type, entry.item_index)
        item = items.get(key)
        if item is None:
            item = items[key] = Item(
                device_id=device.id, item_type=entry.item_type, index=entry.item_index
            )
            session.add(item)
            session.flush()
        variable = existing.get((item.id, entry.service_id))
        if variable is None:
            variable = Variable(
                device_id=device.id, item_id=item.id, service_id=entry.service_id, source="PROFILE"
            )
            session.add(variable)
            created.append(variable)
        elif not (reset_settings and variable.source == "PROFILE"):
            continue
        variable.label = device.technical_name
        variable.polling_time = entry.polling_time
        variable.send_on_update = entry.send_on_update
        variable.is_computed = entry.is_computed
        variable.active = True
    device.profile_is_up_to_date = True
    session.flush()
    return created


def missing_profile_variables(session: Session, device: Device) -> int:
    """How many variables of the profile the device lacks."""
    have = set(
        session.execute(
            select(Item.item_type, Item.index, Variable.service_id)
            .join(Item, Variable.item_id == Item.id)
            .where(Variable.device_id == device.id)
        ).tuples()
    )
    return sum(
        (e.item_type, e.item_index, e.service_id) not in have for e in device.device_type.profile
    )
