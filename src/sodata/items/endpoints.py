from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa, WritableCa
from sodata.items import service
from sodata.items.schemas import ItemCreate, ItemPublic, ItemsList, ItemUpdate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute

router = APIRouter(
    route_class=SessionRoute,
    prefix="/api/v1/ca/{corporateAccountUuid}/devices/{deviceUuid}/items",
    tags=["Items"],
)

DeviceUuid = Annotated[uuid.UUID, Path(alias="deviceUuid", description="UUID of the device")]
ItemUuid = Annotated[uuid.UUID, Path(alias="itemUuid", description="UUID of the item")]


@router.get("", summary="Get all items from a device", response_model=ItemsList)
def list_items(session: SessionDep, ca: ReadableCa, device_uuid: DeviceUuid) -> Response:
    return json_response(service.list_public(session, ca, device_uuid))


@router.get("/{itemUuid}", summary="Get item by UUID", response_model=ItemPublic)
def get_item(
    session: SessionDep, ca: ReadableCa, device_uuid: DeviceUuid, item_uuid: ItemUuid
) -> Response:
    return json_response(service.get_public(session, ca, device_uuid, item_uuid))


@router.post("", summary="Add one item.", status_code=201, response_model=ItemPublic)
def create_item(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    body: ItemCreate,
) -> Response:
    item = service.create(session, principal, ca, device_uuid, body)
    return json_response(service.get_public(session, ca, device_uuid, item.uuid), status_code=201)


@router.put("/{itemUuid}", summary="Update one item.", response_model=ItemPublic)
def update_item(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    item_uuid: ItemUuid,
    body: ItemUpdate,
) -> Response:
    service.update(session, principal, ca, device_uuid, item_uuid, body)
    return json_response(service.get_public(session, ca, device_uuid, item_uuid))


@router.delete("/{itemUuid}", summary="Delete an item.", status_code=204)
def delete_item(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    item_uuid: ItemUuid,
) -> Response:
    service.delete(session, principal, ca, device_uuid, item_uuid)
    return Response(status_code=204)
