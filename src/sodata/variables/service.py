"""Variables of devices: what each item measures, bound to a catalog service."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, and_, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload

from sodata.access.principal import Principal
from sodata.audit import apply_changes, apply_update, record
from sodata.catalog.service import service_by_id
from sodata.devices import service as devices
from sodata.items import service as items
from sodata.items.schemas import MAX_INDEX
from sodata.kit.errors import BadRequest, Conflict, not_found
from sodata.kit.sorting import apply_sort
from sodata.models import CorporateAccount, Device, DeviceType, Item, Service, Variable
from sodata.variables.schemas import (
    ReasonValue,
    VariableBatchUpdate,
    VariableCreate,
    VariableFilter,
    VariablePublic,
    VariableReason,
    VariablesList,
    VariableUpdate,
)

SORT_FIELDS = {
    "itemType": Item.item_type,
    "itemIndex": Item.index,
    "serviceId": Service.service_id,
    "serviceName": Service.name,
    "serviceType": Service.type,
    "serviceGroup": Service.group,
    "label": Variable.label,
    "source": Variable.source,
    "deviceSerialNumber": Device.serial_number,
    "datahubId": Variable.id,
}
# set once, at creation: the variable's identity
IDENTITY = ("item_type", "item_index", "service_id")

PROFILE_REASON = VariableReason(from_template=True, reasons=[ReasonValue(value="IS_DEFAULT")])
USER_REASON = VariableReason(from_template=False, reasons=[ReasonValue(value="USER_DEFINED")])

_MAPPING = re.compile(r"([A-Za-z0-9_-]{1,64})\|([0-9]{1,5})\|([A-Za-z0-9_.-]{1,32})")


def mapping_config(item_type: str, index: int, service_id: str) -> str:
    return f"{item_type}|{index}|{service_id}"


def parse_mapping_config(text: str, field: str = "mappingConfig") -> tuple[str, int, str]:
    """Split "Global|0|140100" into ("Global", 0, "140100"); a 400 naming `field` if malformed."""
    parts = _split_mapping(text) if len(text) <= 100 else _split_mapping.__wrapped__(text)
    if parts is None:
        shown = text if len(text) <= 60 else text[:60] + "..."
        raise BadRequest(
            f"{field}: {shown!r} is not a mapping config; use Item|Index|Service, e.g. "
            "Global|0|140100 (item type, item index from 0, serviceId)"
        )
    return parts


@functools.lru_cache(maxsize=65536)  # ingestion meets the same few in every batch
def _split_mapping(text: str) -> tuple[str, int, str] | None:
    match = _MAPPING.fullmatch(text)
    if match is None or int(match[2]) > MAX_INDEX:
        return None
    return match[1], int(match[2]), match[3]


def _select() -> Select:
    """Variables with their item, service and the device fields the answer shows, in one query."""
    return (
        select(Variable, Device.uuid, Device.serial_number, DeviceType.uuid)
        .join(Variable.item)
        .join(Variable.service)
        .join(Device, Variable.device_id == Device.id)
        .join(DeviceType, Device.device_type_id == DeviceType.id)
        .options(contains_eager(Variable.item), contains_eager(Variable.service))
    )


def to_public(row: Row | tuple[Variable, uuid.UUID, str, uuid.UUID]) -> VariablePublic:
    variable, device_uuid, serial_number, device_type_uuid = row
    item, service = variable.item, variable.service
    return VariablePublic(
        uuid=variable.uuid,
        device_uuid=device_uuid,
        device_serial_number=serial_number,
        device_type_uuid=device_type_uuid,
        label=variable.label,
        compatibility_version=variable.compatibility_version,
        item_id=item.id,
        item_uuid=item.uuid,
        item_index=str(item.index),
        item_custom=item.custom,
        item_type=item.item_type,
        service_id=service.service_id,
        service_uuid=service.uuid,
        service_name=service.name,
        coef=variable.coef,
        offset=variable.offset,
        base_coef=variable.base_coef,
        base_offset=variable.base_offset,
        service_type=service.type,
        service_group=service.group,
        iot_group=variable.iot_group,
        unit=variable.unit or service.unit,
        severity_name=service.severity_name,
        severity_level=service.severity_level,
        # not modelled: the spec shows them null
        manufacturer=None,
        compatibility_min=None,
        compatibility_max=None,
        item_service_translations=None,
        service_translations=service.translations,
        reason=PROFILE_REASON if variable.source == "PROFILE" else USER_REASON,
        source=variable.source,
        timestamp_id=variable.timestamp_id,
        polling_time=variable.polling_time,
        send_on_update=variable.send_on_update,
        counter_reset_threshold=variable.counter_reset_threshold,
        max_carry_seconds=variable.max_carry_seconds,
        is_computed=variable.is_computed,
        configuration_computed=variable.configuration_computed,
        tags=variable.tags or [],
        override_fields=variable.override_fields,
        active=variable.active,
        stream_ref=f"{item.item_type} {item.index} {service.service_id}",
        datahub_id=variable.id,
        mapping_config=mapping_config(item.item_type, item.index, service.service_id),
    )


def _publics(session: Session, variables: Sequence[Variable]) -> VariablesList:
    """The answer for variables just changed, in their order (one query)."""
    ids = [v.id for v in variables]
    rows = {row[0].id: row for row in session.execute(_select().where(Variable.id.in_(ids)))}
    return VariablesList(results=[to_public(rows[i]) for i in ids], total=len(ids))


def list_public(
    session: Session,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    service_type: str | None = None,
    item_type: str | None = None,
) -> VariablesList:
    device = devices.get(session, ca, device_uuid)
    stmt = _select().where(Variable.device_id == device.id)
    if service_type:
        stmt = stmt.where(Service.type == service_type)
    if item_type:
        stmt = stmt.where(Item.item_type == item_type)
    stmt = stmt.order_by(Item.item_type, Item.index, Service.service_id, Variable.id)
    results = [to_public(row) for row in session.execute(stmt)]
    return VariablesList(results=results, total=len(results))


def query(
    session: Session, ca: CorporateAccount, filters: VariableFilter | None, sort_by: str | None
) -> Select:
    """Variables of every device of the account, filtered and sorted (POST /variables)."""
    stmt = _select().where(Device.corporate_account_id == ca.id)
    if filters is not None:
        stmt = _filter(session, ca, stmt, filters)
    if sort_by is None:
        return stmt.order_by(
            Device.serial_number, Item.item_type, Item.index, Service.service_id, Variable.id
        )
    return apply_sort(stmt, sort_by, SORT_FIELDS, Variable.id)


def _filter(
    session: Session, ca: CorporateAccount, stmt: Select, filters: VariableFilter
) -> Select:
    if filters.device_uuids:
        known = set(
            session.scalars(
                select(Device.uuid).where(
                    Device.corporate_account_id == ca.id, Device.uuid.in_(set(filters.device_uuids))
                )
            )
        )
        for i, device_uuid in enumerate(filters.device_uuids):
            if device_uuid not in known:
                raise BadRequest(
                    f"deviceUuids[{i}]: no device {device_uuid} in this corporate account"
                )
        stmt = stmt.where(Device.uuid.in_(known))
    if filters.service_ids:
        stmt = stmt.where(Service.service_id.in_(set(filters.service_ids)))
    if filters.item_types:
        stmt = stmt.where(Item.item_type.in_(set(filters.item_types)))
    if filters.service_types:
        stmt = stmt.where(Service.type.in_(set(filters.service_types)))
    if filters.mapping_configs:
        wanted = {
            parse_mapping_config(text, f"mappingConfigs[{i}]")
            for i, text in enumerate(filters.mapping_configs)
        }
        stmt = stmt.where(
            or_(
                *(
                    and_(Item.item_type == t, Item.index == n, Service.service_id == s)
                    for t, n, s in sorted(wanted)
                )
            )
        )
    return stmt


def _variables_of(device: Device) -> Select:
    """The device's variables with their item and service (what `_label` shows)."""
    return (
        select(Variable)
        .where(Variable.device_id == device.id)
        .options(joinedload(Variable.item), joinedload(Variable.service))
    )


def get(session: Session, device: Device, variable_uuid: uuid.UUID) -> Variable:
    """A variable of this device; one of another device (even of the same account) is a 404."""
    variable = session.scalar(_variables_of(device).where(Variable.uuid == variable_uuid))
    if variable is None:
        raise not_found("Variable", variable_uuid)
    return variable


def get_public(
    session: Session, ca: CorporateAccount, device_uuid: uuid.UUID, variable_uuid: uuid.UUID
) -> VariablePublic:
    device = devices.get(session, ca, device_uuid)
    row = session.execute(
        _select().where(Variable.device_id == device.id, Variable.uuid == variable_uuid)
    ).one_or_none()
    if row is None:
        raise not_found("Variable", variable_uuid)
    return to_public(row)


def resolve(
    session: Session, device: Device, mapping_config: str, field: str = "mappingConfig"
) -> Variable | None:
    """The device's variable at "Item|Index|Service", None if it has none (400 if malformed)."""
    item_type, index, service_id = parse_mapping_config(mapping_config, field)
    return session.scalar(
        select(Variable)
        .join(Variable.item)
        .join(Variable.service)
        .where(
            Variable.device_id == device.id,
            Item.item_type == item_type,
            Item.index == index,
            Service.service_id == service_id,
        )
        .options(contains_eager(Variable.item), contains_eager(Variable.service))
    )


def _changes(data: VariableUpdate, prefix: str) -> dict[str, Any]:
    """The settings sent (not the identity fields), with errors naming the batch element."""
    try:
        sent = data.changes()
    except BadRequest as exc:
        raise BadRequest(prefix + exc.message) from None
    return {k: v for k, v in sent.items() if k not in IDENTITY and k != "uuid"}


def _label(variable: Variable) -> str:
    return mapping_config(variable.item.item_type, variable.item.index, variable.service.service_id)


def create_many(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    bodies: Sequence[VariableCreate],
    batch: bool = True,
) -> VariablesList:
    """Add user variables, all or none; a batch's errors name the element ("[3].serviceId: ...")."""
    device = devices.get(session, ca, device_uuid)

    def prefix(i: int) -> str:
        return f"[{i}]." if batch else ""

    def element(i: int) -> str:
        return f"[{i}]: " if batch else ""

    wanted = {b.service_id for b in bodies}
    services = {
        s.service_id: s
        for s in session.scalars(select(Service).where(Service.service_id.in_(wanted)))
    }
    existing = {
        (t, n, s): u
        for t, n, s, u in session.execute(
            select(Item.item_type, Item.index, Service.service_id, Variable.uuid)
            .join(Item, Variable.item_id == Item.id)
            .join(Service, Variable.service_id == Service.id)
            .where(Variable.device_id == device.id)
        )
    }
    seen: dict[tuple[str, int, str], int] = {}
    settings = []
    for i, body in enumerate(bodies):
        if body.service_id not in services:  # the catalog's own 400
            services[body.service_id] = service_by_id(
                session, body.service_id, field=f"{prefix(i)}serviceId"
            )
        key = (body.item_type, body.item_index, body.service_id)
        if key in existing:
            raise Conflict(
                f"{element(i)}device {device.name} already has variable {mapping_config(*key)} "
                f"({existing[key]}); update it instead"
            )
        if key in seen:
            raise BadRequest(
                f"{element(i)}variable {mapping_config(*key)} is also element [{seen[key]}]; "
                "send it once"
            )
        seen[key] = i
        settings.append(_changes(body, prefix(i)))

    by_key = items.ensure_items(session, device, [(b.item_type, b.item_index) for b in bodies])
    created = []
    for body, changes in zip(bodies, settings, strict=True):
        variable = Variable(
            device_id=device.id,
            item=by_key[body.item_type, body.item_index],
            service=services[body.service_id],
            source="USER",
            label=device.technical_name,
        )
        for field, value in changes.items():
            setattr(variable, field, value)
        session.add(variable)
        created.append(variable)
    session.flush()
    if batch:
        _record_batch(session, principal, ca, device, "VARIABLES_CREATED", "created", created)
    else:
        record(
            session,
            ca.id,
            "VARIABLE_CREATED",
            f"Variable {_label(created[0])} of device {device.name} created",
            principal=principal,
            obj=created[0],
        )
    return _publics(session, created)


def _record_batch(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device: Device,
    action: str,
    verb: str,
    variables: Sequence[Variable],
) -> None:
    """One log entry for a batch, about the device, naming its variables."""
    record(
        session,
        ca.id,
        action,
        f"{len(variables)} variable(s) of device {device.name} {verb}",
        principal=principal,
        obj=device,
        details={"count": len(variables), "variables": [str(v.uuid) for v in variables]},
    )


def update(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    variable_uuid: uuid.UUID,
    data: VariableUpdate,
) -> VariablePublic:
    """A partial update; logged only when it changes something."""
    device = devices.get(session, ca, device_uuid)
    variable = get(session, device, variable_uuid)
    apply_update(
        session,
        principal,
        ca.id,
        variable,
        _changes(data, ""),
        action="VARIABLE_UPDATED",
        message=lambda: f"Variable {_label(variable)} of device {device.name} updated",
    )
    return _publics(session, [variable]).results[0]


def update_many(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    bodies: Sequence[VariableBatchUpdate],
) -> VariablesList:
    """Update variables of one device, all or none; an unknown uuid is a 400 naming the element."""
    device = devices.get(session, ca, device_uuid)
    found = {
        v.uuid: v
        for v in session.scalars(
            _variables_of(device).where(Variable.uuid.in_({b.uuid for b in bodies}))
        )
    }
    seen: dict[uuid.UUID, int] = {}
    plan = []
    for i, body in enumerate(bodies):
        variable = found.get(body.uuid)
        if variable is None:
            raise BadRequest(f"[{i}].uuid: device {device.name} has no variable {body.uuid}")
        if body.uuid in seen:
            raise BadRequest(
                f"[{i}].uuid: variable {body.uuid} is also element [{seen[body.uuid]}]; "
                "send it once"
            )
        seen[body.uuid] = i
        plan.append((variable, _changes(body, f"[{i}].")))
    changed = [variable for variable, changes in plan if apply_changes(session, variable, changes)]
    session.flush()
    if changed:
        _record_batch(session, principal, ca, device, "VARIABLES_UPDATED", "updated", changed)
    return _publics(session, [variable for variable, _ in plan])


def delete(
    session: Session,
    principal: Principal,
    ca: CorporateAccount,
    device_uuid: uuid.UUID,
    variable_uuid: uuid.UUID,
) -> None:
    """Delete a variable; losing a profile variable puts the device's profile out of date."""
    device = devices.get(session, ca, device_uuid)
    variable = get(session, device, variable_uuid)
    if variable.source == "PROFILE":
        device.profile_is_up_to_date = False
    record(
        session,
        ca.id,
        "VARIABLE_DELETED",
        f"Variable {_label(variable)} of device {device.name} deleted",
        principal=principal,
        obj=variable,
    )
    session.delete(variable)
    session.flush()
