"""Keeps the built-in catalog in the database, and reads it."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from sodata.catalog import data
from sodata.kit.errors import BadRequest, not_found
from sodata.kit.sorting import apply_sort
from sodata.models import DeviceType, ProfileEntry, Service


def _service_uuid(service_id: str) -> uuid.UUID:
    return data.SERVICE_UUIDS.get(service_id) or uuid.uuid5(
        uuid.NAMESPACE_URL, f"sodata:service:{service_id}"
    )


def sync_catalog(session: Session) -> None:
    """Insert the built-in services and device types that are missing (idempotent)."""
    services = {s.service_id: s for s in session.scalars(select(Service))}
    for service_id, name, type_, group, unit, en, fr in data.SERVICES:
        if service_id in services:
            continue
        services[service_id] = service = Service(
            uuid=_service_uuid(service_id),
            service_id=service_id,
            name=name,
            type=type_,
            group=group,
            unit=unit,
            translations={"en": {"title": en}, "fr": {"title": fr, "shortName": fr}},
        )
        session.add(service)
    session.flush()
    known = set(session.scalars(select(DeviceType.reference_id)))
    for type_uuid, ref, name, model, maker, is_gateway, conf_key, profile in data.DEVICE_TYPES:
        if ref in known:
            continue
        device_type = DeviceType(
            uuid=type_uuid,
            reference_id=ref,
            name=name,
            model_name=model,
            manufacturer=maker,
            is_gateway=is_gateway,
            configuration_key=conf_key,
        )
        for item_type, index, service_ids in profile:
            for sid in service_ids:
                service = services[sid]
                device_type.profile.append(
                    ProfileEntry(
                        item_type=item_type,
                        item_index=index,
                        service_id=service.id,
                        polling_time=3600 if sid in data.COMPUTED else data.POLLING[service.type],
                        send_on_update=service.type != "Measure",
                        is_computed=sid in data.COMPUTED,
                    )
                )
        session.add(device_type)
    session.flush()


SERVICE_SORT_FIELDS = {"serviceId": Service.service_id, "name": Service.name}
DEVICE_TYPE_SORT_FIELDS = {"name": DeviceType.name, "referenceId": DeviceType.reference_id}


def services(type: str | None, group: str | None, sort_by: str | None = None) -> Select:
    """The services of the catalog, of this type and group when given, by serviceId unless
    `sort_by` says otherwise."""
    stmt = select(Service)
    if type:
        stmt = stmt.where(Service.type == type)
    if group:
        stmt = stmt.where(Service.group == group)
    return apply_sort(stmt, sort_by, SERVICE_SORT_FIELDS, Service.id, "serviceId")


def device_types(sort_by: str | None = None) -> Select:
    """Device types with their profile and its services (one more query for a whole page),
    in `sort_by`'s order."""
    return apply_sort(_with_profile(), sort_by, DEVICE_TYPE_SORT_FIELDS, DeviceType.id)


def _with_profile() -> Select:
    return select(DeviceType).options(
        selectinload(DeviceType.profile).joinedload(ProfileEntry.service)
    )


def get_device_type(session: Session, type_uuid: uuid.UUID) -> DeviceType:
    device_type = session.scalar(_with_profile().where(DeviceType.uuid == type_uuid))
    if device_type is None:
        raise not_found("Device type", type_uuid)
    return device_type


def device_type_by_uuid(
    session: Session, type_uuid: uuid.UUID, field: str = "deviceTypeUid"
) -> DeviceType:
    device_type = session.scalar(select(DeviceType).where(DeviceType.uuid == type_uuid))
    if device_type is None:
        raise BadRequest(
            f"{field}: unknown device type {type_uuid}; GET /api/v1/device-types lists them"
        )
    return device_type


def service_by_id(session: Session, service_id: str, field: str = "serviceId") -> Service:
    service = session.scalar(select(Service).where(Service.service_id == str(service_id)))
    if service is None:
        raise BadRequest(f"{field}: unknown service {service_id}; GET /api/v1/services lists them")
    return service


def get_service(session: Session, service_id: str) -> Service:
    service = session.scalar(select(Service).where(Service.service_id == service_id))
    if service is None:
        raise not_found("Service", service_id)
    return service
