"""The latest value of each variable of some devices, in one query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from sodata.access.data import readable_devices
from sodata.access.principal import Principal
from sodata.kit.errors import not_found
from sodata.models import CorporateAccount, Device, Item, LastValue, Service, Variable
from sodata.timeseries.calendar import iso_ms


def text(value: float) -> str:
    """ "18" for 18.0, "18.5" for 18.5: the spec sends values as text."""
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def title(translations: dict[str, Any] | None, name: str) -> str:
    """A service's English title, else its name."""
    english = (translations or {}).get("en") or {}
    return english.get("title") or name


# built once (building it took longer than running it): the values of some devices, by id
_VALUES = (
    select(
        Variable.device_id,
        LastValue.at,
        LastValue.value,
        Variable.unit,
        Item.item_type,
        Item.index,
        Item.name,
        Service.service_id,
        Service.name,
        Service.translations,
        Service.unit,
        Service.group,
        Service.type,
    )
    .join(Variable, LastValue.variable_id == Variable.id)
    .join(Item, Variable.item_id == Item.id)
    .join(Service, Variable.service_id == Service.id)
    .where(Variable.device_id.in_(bindparam("devices", expanding=True)))
    .order_by(Variable.device_id, Item.item_type, Item.index, Service.service_id)
)


def of_devices(
    session: Session, principal: Principal, ca: CorporateAccount, device_uuids: Sequence[uuid.UUID]
) -> dict[str, Any]:
    """{"devices": [{"deviceUuid", "values": [...]}]} in the order asked (404 for a device the
    caller may not read). Plain rows, no ORM object per value."""
    wanted = list(dict.fromkeys(device_uuids))
    readable = select(Device.uuid, Device.id, Device.name).where(
        Device.uuid.in_(wanted), readable_devices(principal, ca)
    )
    connection = session.connection()
    devices = {device_uuid: (id_, name) for device_uuid, id_, name in connection.execute(readable)}
    for device_uuid in wanted:
        if device_uuid not in devices:
            raise not_found("Device", device_uuid)
    shown = {id_: (str(device_uuid), name) for device_uuid, (id_, name) in devices.items()}
    rows = connection.execute(_VALUES, {"devices": list(shown)})
    values: dict[int, list[dict[str, Any]]] = {id_: [] for id_ in shown}
    for (
        device_id,
        at,
        value,
        unit,
        item_type,
        index,
        item_name,
        service_id,
        service_name,
        translations,
        service_unit,
        group,
        kind,
    ) in rows:
        device_text, device_name = shown[device_id]
        values[device_id].append(
            {
                "serviceId": service_id,
                "itemType": item_type,
                "itemIndex": str(index),
                "deviceUuid": device_text,
                "value": text(value),
                "date": iso_ms(at),
                "title": title(translations, service_name),
                "unit": unit or service_unit,
                "deviceName": device_name,
                "itemName": item_name or item_type,
                "serviceGroup": group,
                "serviceType": kind,
            }
        )
    return {"devices": [{"deviceUuid": str(u), "values": values[devices[u][0]]} for u in wanted]}
