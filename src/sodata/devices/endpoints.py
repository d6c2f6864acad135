from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa, WritableCa
from sodata.contacts.schemas import NestedDetails
from sodata.devices import service
from sodata.devices.schemas import (
    NESTED,
    DeviceCreate,
    DeviceLink,
    DevicePreCreate,
    DevicePublic,
    DeviceSharePublic,
    DevicesRepaired,
    DeviceStatus,
    DeviceUpdate,
)
from sodata.icons.service import (
    ICON_RESPONSES,
    ICON_UPLOAD_OPENAPI,
    icon_response,
    read_icon_upload,
)
from sodata.kit.db import MAX_FILTER_LENGTH
from sodata.kit.lookup import name_param
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import exclude_nested, json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.models import Icon

NameFilter = Annotated[
    str | None, name_param("the devices whose name or serial number contains this text")
]
router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}/devices", tags=["Devices"]
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS)]

DeviceUuid = Annotated[uuid.UUID, Path(alias="deviceUuid", description="UUID of the device")]
SiteUuid = Annotated[uuid.UUID, Path(alias="siteUuid", description="UUID of the site")]

# The fixed paths come before /{deviceUuid}, so that they are never read as a device uuid.


@router.get("", summary="Get the pagination for devices", response_model=Page[DevicePublic])
def list_devices(
    session: SessionDep,
    principal: PrincipalDep,
    ca: ReadableCa,
    paging: PagingDep,
    details: NestedDetails,
    site_uuid: Annotated[
        uuid.UUID | None,
        Query(
            alias="siteUuid",
            description="Only the devices of this site (owned: true) and those shared with it "
            "(owned: false)",
        ),
    ] = None,
    customer_uuid: Annotated[
        uuid.UUID | None,
        Query(alias="customerUuid", description="Only the devices of this customer's sites"),
    ] = None,
    serial_number: Annotated[
        str | None,
        Query(
            alias="serialNumber",
            max_length=MAX_FILTER_LENGTH,
            description="Only the device with this serial number",
        ),
    ] = None,
    status: Annotated[
        DeviceStatus | None, Query(description="PENDING, ACCEPTED or DEACTIVATED")
    ] = None,
    name: NameFilter = None,
    gateway_uuid: Annotated[
        uuid.UUID | None,
        Query(alias="gatewayUuid", description="Only the devices behind this gateway"),
    ] = None,
    readable: Annotated[
        bool,
        Query(
            description="true: only the devices whose data you may read (an account's admins "
            "read every device's; other users those of their data access groups)"
        ),
    ] = False,
    sort_by: SortBy = None,
) -> Response:
    stmt, params = service.query(
        session,
        ca,
        site_uuid=site_uuid,
        customer_uuid=customer_uuid,
        serial_number=serial_number,
        status=status,
        name=name,
        gateway_uuid=gateway_uuid,
        readable_by=principal if readable else None,
        sort_by=sort_by,
    )
    total, rows = paginate(session, stmt, paging, params)
    page = Page[DevicePublic](
        total=total,
        results=service.to_public(session, rows, details),
        take=paging.take,
    )
    return json_response(page, exclude=exclude_nested(details, NESTED, in_page=True))


@router.post("", summary="Create a new device", status_code=201, response_model=DevicePublic)
def create_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, body: DeviceCreate
) -> Response:
    device = service.create(session, principal, ca, body)
    return json_response(service.get_public(session, ca, device.uuid), status_code=201)


@router.post(
    "/pre-create", summary="Pre-create a new device", status_code=201, response_model=DevicePublic
)
def pre_create_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, body: DevicePreCreate
) -> Response:
    """The device is known by its serial number, PENDING and in no site until it is linked."""
    device = service.pre_create(session, principal, ca, body)
    return json_response(service.get_public(session, ca, device.uuid), status_code=201)


@router.post(
    "/link",
    summary="Link a new device",
    response_model=DevicePublic,
    responses={
        201: {"model": DevicePublic, "description": "The device was unknown and has been created"}
    },
)
def link_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, body: DeviceLink
) -> Response:
    """Attach the device with this serial number to the site holding `activationKey`.

    A pre-created device is linked (200); an unknown one is created (201) when the site
    allows automatic registration (autoProductsRegistration, or autoGatewaysRegistration
    for a gateway), which needs `deviceTypeUid`."""
    device, created = service.link(session, principal, ca, body)
    return json_response(
        service.get_public(session, ca, device.uuid), status_code=201 if created else 200
    )


@router.put("/repair-devices", summary="Repair all devices", response_model=DevicesRepaired)
def repair_devices(session: SessionDep, principal: PrincipalDep, ca: WritableCa) -> Response:
    """Apply the profile again to every device whose profile is not up to date (missing
    profile variables are created; settings are kept)."""
    return json_response(service.repair_all(session, principal, ca))


@router.get("/{deviceUuid}", summary="Get device by UUID", response_model=DevicePublic)
def get_device(
    session: SessionDep, ca: ReadableCa, device_uuid: DeviceUuid, details: NestedDetails
) -> Response:
    return json_response(
        service.get_public(session, ca, device_uuid, details),
        exclude=exclude_nested(details, NESTED),
    )


@router.put("/{deviceUuid}", summary="Update a device", response_model=DevicePublic)
def update_device(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    body: DeviceUpdate,
) -> Response:
    service.update(session, principal, ca, device_uuid, body)
    return json_response(service.get_public(session, ca, device_uuid))


@router.delete("/{deviceUuid}", summary="Delete a device", status_code=204)
def delete_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, device_uuid: DeviceUuid
) -> Response:
    service.delete(session, principal, ca, device_uuid)
    return Response(status_code=204)


@router.put("/{deviceUuid}/activate", summary="Activate a device", response_model=DevicePublic)
def activate_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, device_uuid: DeviceUuid
) -> Response:
    service.set_status(session, principal, ca, device_uuid, "ACCEPTED")
    return json_response(service.get_public(session, ca, device_uuid))


@router.put("/{deviceUuid}/deactivate", summary="Deactivate a device", response_model=DevicePublic)
def deactivate_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, device_uuid: DeviceUuid
) -> Response:
    service.set_status(session, principal, ca, device_uuid, "DEACTIVATED")
    return json_response(service.get_public(session, ca, device_uuid))


@router.put("/{deviceUuid}/push-profile", summary="Push the profile", response_model=DevicePublic)
def push_profile(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, device_uuid: DeviceUuid
) -> Response:
    """Create the missing profile variables and reset the profile's settings on the others."""
    service.reapply_profile(session, principal, ca, device_uuid, reset_settings=True)
    return json_response(service.get_public(session, ca, device_uuid))


@router.put("/{deviceUuid}/repair", summary="Repair a device", response_model=DevicePublic)
def repair_device(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, device_uuid: DeviceUuid
) -> Response:
    """Create the missing profile variables; existing variables keep their settings."""
    service.reapply_profile(session, principal, ca, device_uuid, reset_settings=False)
    return json_response(service.get_public(session, ca, device_uuid))


@router.post(
    "/{deviceUuid}/share/{siteUuid}",
    summary="Share a device with a site",
    status_code=201,
    response_model=DeviceSharePublic,
)
def share_device(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    site_uuid: SiteUuid,
) -> Response:
    """The device is then listed in that site too, with owned: false."""
    return json_response(
        service.share(session, principal, ca, device_uuid, site_uuid), status_code=201
    )


@router.delete("/{deviceUuid}/share/{siteUuid}", summary="Cancel sharing", status_code=204)
def cancel_sharing(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    site_uuid: SiteUuid,
) -> Response:
    service.cancel_share(session, principal, ca, device_uuid, site_uuid)
    return Response(status_code=204)


@router.get(
    "/{deviceUuid}/gateway",
    summary="Get parent gateway from device UUID",
    response_model=DevicePublic,
)
def get_gateway(
    session: SessionDep, ca: ReadableCa, device_uuid: DeviceUuid, details: NestedDetails
) -> Response:
    gateway_uuid = service.gateway_of(session, ca, device_uuid)
    return json_response(
        service.get_public(session, ca, gateway_uuid, details),
        exclude=exclude_nested(details, NESTED),
    )


@router.get(
    "/{deviceUuid}/icon",
    summary="Get device icon image",
    response_class=Response,
    responses=ICON_RESPONSES,
)
def get_device_icon(session: SessionDep, ca: ReadableCa, device_uuid: DeviceUuid) -> Response:
    return icon_response(service.get(session, ca, device_uuid).icon, "device", device_uuid)


@router.put(
    "/{deviceUuid}/icon",
    summary="Update a device icon",
    response_model=DevicePublic,
    openapi_extra=ICON_UPLOAD_OPENAPI,
)
def put_device_icon(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    icon: Annotated[Icon, Depends(read_icon_upload)],
) -> Response:
    service.set_icon(session, principal, ca, device_uuid, icon)
    return json_response(service.get_public(session, ca, device_uuid))
