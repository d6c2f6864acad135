"""The latest value of each variable of some devices, in one query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.access.data import readable_devices
from sodata.access.principal import Principal
from sodata.kit.errors import not_found
from sodata.models import CorporateAccount, Device, Item, LastValue, Service, Variable
from sodata.timeseries.calendar import iso_ms


def text(value: float) -> str:
    """ "18" for 18.0, "18.5" for 18.5: the spec sends values as text."""
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def title(service: Service) -> str:
    english = (service.translations or {}).get("en") or {}
    return english.get("title") or service.name


def of_devices(
    session: Session, principal: Principal, ca: CorporateAccount, device_uuids: Sequence[uuid.UUID]
) -> dict[str, Any]:
    """{"devices": [{"deviceUuid", "values": [...]}]} in the order asked (404 for a device the
    caller may not read)."""
    wanted = list(dict.fromkeys(device_uuids))
    devices = {
        d.uuid: d
        for d in session.scalars(
            select(Device).where(Device.uuid.in_(wanted), readable_devices(principal, ca))
        )
    }
    for device_uuid in wanted:
        if device_uuid not in devices:
            raise not_found("Device", device_uuid)
    rows = session.execute(
        select(LastValue.at, LastValue.value, Variable.unit, Item, Service, Device.uuid)
        .join(Variable, LastValue.variable_id == Variable.id)
        .join(Item, Variable.item_id == Item.id)
        .join(Service, Variable.service_id == Service.id)
        .join(Device, Variable.device_id == Device.id)
        .where(Device.id.in_([d.id for d in devices.values()]))
        .order_by(Device.id, Item.item_type, Item.index, Service.service_id)
    ).tuples()
    values: dict[uuid.UUID, list[dict[str, Any]]] = {u: [] for u in wanted}
    for at, value, unit, item, service, device_uuid in rows:
        device = devices[device_uuid]
        values[device_uuid].append(
            {
                "serviceId": service.service_id,
                "itemType": item.item_type,
                "itemIndex": str(item.index),
                "deviceUuid": str(device_uuid),
                "value": text(value),
                "date": iso_ms(at),
                "title": title(service),
                "unit": unit or service.unit,
                "deviceName": device.name,
                "itemName": item.name or item.item_type,
                "serviceGroup": service.group,
                "serviceType": service.type,
            }
        )
    return {"devices": [{"deviceUuid": str(u), "values": values[u]} for u in wanted]}
