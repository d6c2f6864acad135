"""A device type's profile applied to devices: the items and variables it prescribes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.items import service as items
from sodata.models import Device, Variable


def apply_profile(session: Session, device: Device, reset_settings: bool = False) -> list[Variable]:
    """Create the profile's items and variables that `device` lacks; return the new variables.

    With `reset_settings` (push-profile), profile variables that exist get the profile's
    pollingTime, sendOnUpdate and isComputed back, and are active again. Variables
    added by users are never touched. The device's profile is then up to date.
    """
    return apply_profiles(session, [device], reset_settings)[device.id]


def apply_profiles(
    session: Session, devices: Sequence[Device], reset_settings: bool = False
) -> dict[int, list[Variable]]:
    """`apply_profile` for many devices at once: the new variables by device id.

    Their items and variables are read in two queries whatever the number of devices; load
    the devices with their type's profile (selectinload) to read the profiles in two more."""
    if not devices:
        return {}
    ids = [device.id for device in devices]
    have_items = items.items_by_device(session, ids)
    have_variables = {
        (v.item_id, v.service_id): v
        for v in session.scalars(select(Variable).where(Variable.device_id.in_(ids)))
    }
    created: dict[int, list[Variable]] = {}
    for device in devices:
        profile = device.device_type.profile
        by_key = items.ensure_items(
            session,
            device,
            [(entry.item_type, entry.item_index) for entry in profile],
            have_items.get(device.id, {}),
        )
        new = created[device.id] = []
        for entry in profile:
            item = by_key[entry.item_type, entry.item_index]
            variable = have_variables.get((item.id, entry.service_id)) if item.id else None
            if variable is None:
                variable = Variable(
                    device_id=device.id, item=item, service_id=entry.service_id, source="PROFILE"
                )
                session.add(variable)
                new.append(variable)
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
