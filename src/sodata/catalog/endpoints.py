from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from sodata.access.deps import PrincipalDep
from sodata.catalog import data, service
from sodata.catalog.schemas import DeviceTypePublic, ProfileEntryPublic, ServicePublic
from sodata.kit.db import MAX_FILTER_LENGTH
from sodata.kit.lookup import public
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.models import DeviceType, Service

router = APIRouter(route_class=SessionRoute, prefix="/api/v1", tags=["Catalog"])

ServiceSortBy = Annotated[
    str | None, sort_by_param(service.SERVICE_SORT_FIELDS, default="serviceId")
]
DeviceTypeSortBy = Annotated[str | None, sort_by_param(service.DEVICE_TYPE_SORT_FIELDS)]


def service_public(s: Service) -> ServicePublic:
    return public(ServicePublic, s, unit_symbol=data.UNITS.get(s.unit or ""))


def device_type_public(t: DeviceType) -> DeviceTypePublic:
    """Read the type with service.device_types() or get_device_type(): its profile and their
    services come loaded."""
    profile = [
        ProfileEntryPublic(
            item_type=e.item_type,
            item_index=str(e.item_index),
            service_id=e.service.service_id,
            service_name=e.service.name,
            polling_time=e.polling_time,
            send_on_update=e.send_on_update,
            is_computed=e.is_computed,
            mapping_config=f"{e.item_type}|{e.item_index}|{e.service.service_id}",
        )
        for e in t.profile
    ]
    return public(DeviceTypePublic, t, profile=profile)


@router.get(
    "/services", summary="Get the pagination for services", response_model=Page[ServicePublic]
)
def list_services(
    session: SessionDep,
    _: PrincipalDep,
    paging: PagingDep,
    sort_by: ServiceSortBy = None,
    type: Annotated[
        str | None, Query(max_length=MAX_FILTER_LENGTH, description="Measure, Alarm or Status")
    ] = None,
    group: Annotated[
        str | None, Query(max_length=MAX_FILTER_LENGTH, description="Service group, e.g. Output")
    ] = None,
) -> Response:
    total, rows = paginate(session, service.services(type, group, sort_by), paging)
    return json_response(
        Page[ServicePublic](
            total=total, results=[service_public(s) for s in rows], take=paging.take
        )
    )


@router.get(
    "/services/{serviceId}", summary="Get service by serviceId", response_model=ServicePublic
)
def get_service(
    session: SessionDep, _: PrincipalDep, service_id: Annotated[str, Path(alias="serviceId")]
) -> Response:
    return json_response(service_public(service.get_service(session, service_id)))


@router.get(
    "/device-types",
    summary="Get the pagination for device types",
    response_model=Page[DeviceTypePublic],
)
def list_device_types(
    session: SessionDep, _: PrincipalDep, paging: PagingDep, sort_by: DeviceTypeSortBy = None
) -> Response:
    total, rows = paginate(session, service.device_types(sort_by), paging)
    return json_response(
        Page[DeviceTypePublic](
            total=total, results=[device_type_public(t) for t in rows], take=paging.take
        )
    )


@router.get(
    "/device-types/{deviceTypeUid}",
    summary="Get device type by UUID, with its profile",
    response_model=DeviceTypePublic,
)
def get_device_type(
    session: SessionDep,
    _: PrincipalDep,
    type_uuid: Annotated[uuid.UUID, Path(alias="deviceTypeUid")],
) -> Response:
    return json_response(device_type_public(service.get_device_type(session, type_uuid)))
