from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from pydantic import Field, TypeAdapter, ValidationError

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa, WritableCa
from sodata.items.schemas import ItemType
from sodata.kit.errors import BadRequest, describe_validation_errors
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.variables import service
from sodata.variables.schemas import (
    ServiceType,
    VariableBatchUpdate,
    VariableCreate,
    VariableFilter,
    VariablePublic,
    VariablesList,
    VariableUpdate,
)

router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}", tags=["Variables"]
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS, default=None)]

DeviceUuid = Annotated[uuid.UUID, Path(alias="deviceUuid", description="UUID of the device")]
VariableUuid = Annotated[uuid.UUID, Path(alias="variableUuid", description="UUID of the variable")]

MAX_BATCH = 1000


V = TypeVar("V", bound=VariableUpdate)
Batch = Annotated[list[V], Field(min_length=1, max_length=MAX_BATCH)]


def _batch_body(
    model: type[V], adapter: TypeAdapter[list[V]]
) -> tuple[Callable[[Request], Awaitable[list[V]]], dict[str, Any]]:
    """A JSON array of `model` (`adapter`: of Batch[model]) and its OpenAPI request body.

    Read here rather than by FastAPI so that errors name the element as "[3].serviceId: ...",
    the same way as the checks of the service do.
    """

    async def parse(request: Request) -> list[V]:
        try:
            return adapter.validate_json(await request.body())
        except ValidationError as exc:
            errors = []
            for err in exc.errors():
                loc = tuple(err["loc"])
                loc = (
                    (f"[{loc[0]}]", *loc[1:]) if loc and isinstance(loc[0], int) else ("body", *loc)
                )
                errors.append({**err, "loc": loc})
            raise BadRequest(describe_validation_errors(errors)) from None

    schema = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_BATCH,
        "items": model.model_json_schema(by_alias=True),
    }
    return parse, {
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}
    }


_parse_creates, CREATES_OPENAPI = _batch_body(VariableCreate, TypeAdapter(Batch[VariableCreate]))
_parse_updates, UPDATES_OPENAPI = _batch_body(
    VariableBatchUpdate, TypeAdapter(Batch[VariableBatchUpdate])
)
BatchCreates = Annotated[list[VariableCreate], Depends(_parse_creates)]
BatchUpdates = Annotated[list[VariableBatchUpdate], Depends(_parse_updates)]


@router.get(
    "/devices/{deviceUuid}/variables",
    summary="Get all variables from a device",
    response_model=VariablesList,
)
def list_device_variables(
    session: SessionDep,
    ca: ReadableCa,
    device_uuid: DeviceUuid,
    service_type: Annotated[
        ServiceType | None, Query(alias="serviceType", description="Only this service type")
    ] = None,
    item_type: Annotated[
        ItemType | None, Query(alias="itemType", description="Only the items of this type")
    ] = None,
) -> Response:
    return json_response(service.list_public(session, ca, device_uuid, service_type, item_type))


@router.get(
    "/devices/{deviceUuid}/variables/{variableUuid}",
    summary="Get variable by UUID",
    response_model=VariablePublic,
)
def get_variable(
    session: SessionDep, ca: ReadableCa, device_uuid: DeviceUuid, variable_uuid: VariableUuid
) -> Response:
    return json_response(service.get_public(session, ca, device_uuid, variable_uuid))


@router.post(
    "/devices/{deviceUuid}/variables",
    summary="Add one variable.",
    status_code=201,
    response_model=VariablePublic,
)
def create_variable(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    body: VariableCreate,
) -> Response:
    created = service.create_many(session, principal, ca, device_uuid, [body], batch=False)
    return json_response(created.results[0], status_code=201)


@router.post(
    "/batch-devices/{deviceUuid}/variables",
    summary="Add many variables.",
    description=f"All or none: a JSON array of 1 to {MAX_BATCH} variables; an error names "
    'the element, e.g. "[3].serviceId: ...".',
    status_code=201,
    response_model=VariablesList,
    openapi_extra=CREATES_OPENAPI,
)
def create_variables(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    bodies: BatchCreates,
) -> Response:
    return json_response(
        service.create_many(session, principal, ca, device_uuid, bodies), status_code=201
    )


@router.put(
    "/batch-devices/{deviceUuid}/variables",
    summary="Update many variables.",
    description=f"All or none: a JSON array of 1 to {MAX_BATCH} objects, each the uuid of a "
    "variable of the device and the fields to change.",
    response_model=VariablesList,
    openapi_extra=UPDATES_OPENAPI,
)
def update_variables(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    bodies: BatchUpdates,
) -> Response:
    return json_response(service.update_many(session, principal, ca, device_uuid, bodies))


@router.put(
    "/devices/{deviceUuid}/variables/{variableUuid}",
    summary="Update one variable.",
    response_model=VariablePublic,
)
def update_variable(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    variable_uuid: VariableUuid,
    body: VariableUpdate,
) -> Response:
    return json_response(service.update(session, principal, ca, device_uuid, variable_uuid, body))


@router.delete(
    "/devices/{deviceUuid}/variables/{variableUuid}", summary="Delete a variable.", status_code=204
)
def delete_variable(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    device_uuid: DeviceUuid,
    variable_uuid: VariableUuid,
) -> Response:
    service.delete(session, principal, ca, device_uuid, variable_uuid)
    return Response(status_code=204)


@router.post(
    "/variables", summary="Get the pagination for variables", response_model=Page[VariablePublic]
)
def list_variables(
    session: SessionDep,
    ca: ReadableCa,
    paging: PagingDep,
    sort_by: SortBy = None,
    filters: Annotated[
        VariableFilter | None,
        Body(
            description="Optional filters: AND between the keys, OR inside a list; an empty or "
            "absent list does not filter. mappingConfigs use Item|Index|Service, e.g. "
            "Global|0|140100."
        ),
    ] = None,
) -> Response:
    total, rows = paginate(session, service.query(session, ca, filters, sort_by), paging)
    return json_response(
        Page[VariablePublic](
            total=total, results=[service.to_public(r) for r in rows], take=paging.take
        )
    )
