from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import AdminCa, ReadableCa
from sodata.access_groups import service
from sodata.access_groups.schemas import (
    AccessGroupCreate,
    AccessGroupDevicePublic,
    AccessGroupPublic,
    AccessGroupUpdate,
    AccessGroupUserPublic,
)
from sodata.contacts.schemas import NestedDetails
from sodata.customers import service as customers
from sodata.customers.schemas import NESTED as CUSTOMER_NESTED
from sodata.customers.schemas import CustomerPublic
from sodata.kit.lookup import name_param
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import exclude_nested, json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param

NameFilter = Annotated[str | None, name_param("the groups whose name contains this text")]
router = APIRouter(
    route_class=SessionRoute,
    prefix="/api/v1/ca/{corporateAccountUuid}/data-access-groups",
    tags=["Data Access Groups"],
)
GroupSortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS)]
CustomerSortBy = Annotated[str | None, sort_by_param(customers.SORT_FIELDS)]
DeviceSortBy = Annotated[str | None, sort_by_param(service.DEVICE_SORT_FIELDS)]
UserSortBy = Annotated[str | None, sort_by_param(service.USER_SORT_FIELDS, default="email")]

GroupUuid = Annotated[
    uuid.UUID, Path(alias="dataAccessGroupUuid", description="UUID of the data access group")
]
CustomerUuid = Annotated[uuid.UUID, Path(alias="customerUuid", description="UUID of the customer")]
DeviceUuid = Annotated[uuid.UUID, Path(alias="deviceUuid", description="UUID of the device")]
UserUuid = Annotated[uuid.UUID, Path(alias="userUuid", description="UUID of the user")]


@router.get(
    "", summary="Get the pagination for data access groups", response_model=Page[AccessGroupPublic]
)
def list_access_groups(
    session: SessionDep,
    ca: ReadableCa,
    paging: PagingDep,
    sort_by: GroupSortBy = None,
    name: NameFilter = None,
) -> Response:
    total, rows = paginate(session, service.query(ca, name, sort_by), paging)
    results = [service.to_public(ca, *row) for row in rows]
    return json_response(Page[AccessGroupPublic](total=total, results=results, take=paging.take))


@router.get(
    "/{dataAccessGroupUuid}",
    summary="Get data access group by UUID",
    response_model=AccessGroupPublic,
)
def get_access_group(session: SessionDep, ca: ReadableCa, group_uuid: GroupUuid) -> Response:
    return json_response(service.get_public(session, ca, group_uuid))


@router.post(
    "", summary="Create a new data access group", status_code=201, response_model=AccessGroupPublic
)
def create_access_group(
    session: SessionDep, principal: PrincipalDep, ca: AdminCa, body: AccessGroupCreate
) -> Response:
    group = service.create(session, principal, ca, body)
    return json_response(service.get_public(session, ca, group.uuid), status_code=201)


@router.put(
    "/{dataAccessGroupUuid}", summary="Update a data access group", response_model=AccessGroupPublic
)
def update_access_group(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    body: AccessGroupUpdate,
) -> Response:
    service.update(session, principal, ca, group_uuid, body)
    return json_response(service.get_public(session, ca, group_uuid))


@router.delete("/{dataAccessGroupUuid}", summary="Delete a data access group", status_code=204)
def delete_access_group(
    session: SessionDep, principal: PrincipalDep, ca: AdminCa, group_uuid: GroupUuid
) -> Response:
    service.delete_group(session, principal, ca, group_uuid)
    return Response(status_code=204)


@router.get(
    "/{dataAccessGroupUuid}/customers",
    summary="Get the customers of a data access group",
    response_model=Page[CustomerPublic],
)
def list_group_customers(
    session: SessionDep,
    ca: ReadableCa,
    group_uuid: GroupUuid,
    paging: PagingDep,
    details: NestedDetails,
    sort_by: CustomerSortBy = None,
) -> Response:
    group = service.get(session, ca, group_uuid)
    total, rows = paginate(session, service.customers_query(group, sort_by, details), paging)
    page = Page[CustomerPublic](
        total=total, results=[customers.to_public(c, n, details) for c, n in rows], take=paging.take
    )
    return json_response(page, exclude=exclude_nested(details, CUSTOMER_NESTED, in_page=True))


@router.put(
    "/{dataAccessGroupUuid}/customers/{customerUuid}",
    summary="Add a customer to a data access group",
    response_model=AccessGroupPublic,
)
def add_group_customer(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    customer_uuid: CustomerUuid,
) -> Response:
    service.add_member(session, principal, ca, group_uuid, service.CUSTOMERS, customer_uuid)
    return json_response(service.get_public(session, ca, group_uuid))


@router.delete(
    "/{dataAccessGroupUuid}/customers/{customerUuid}",
    summary="Remove a customer from a data access group",
    response_model=AccessGroupPublic,
)
def remove_group_customer(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    customer_uuid: CustomerUuid,
) -> Response:
    service.remove_member(session, principal, ca, group_uuid, service.CUSTOMERS, customer_uuid)
    return json_response(service.get_public(session, ca, group_uuid))


@router.get(
    "/{dataAccessGroupUuid}/devices",
    summary="Get the devices of a data access group",
    response_model=Page[AccessGroupDevicePublic],
)
def list_group_devices(
    session: SessionDep,
    ca: ReadableCa,
    group_uuid: GroupUuid,
    paging: PagingDep,
    sort_by: DeviceSortBy = None,
) -> Response:
    group = service.get(session, ca, group_uuid)
    total, rows = paginate(session, service.devices_query(group, sort_by), paging)
    results = [AccessGroupDevicePublic.model_validate(row._mapping) for row in rows]
    return json_response(
        Page[AccessGroupDevicePublic](total=total, results=results, take=paging.take)
    )


@router.put(
    "/{dataAccessGroupUuid}/devices/{deviceUuid}",
    summary="Add a device to a data access group",
    response_model=AccessGroupPublic,
)
def add_group_device(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    device_uuid: DeviceUuid,
) -> Response:
    service.add_member(session, principal, ca, group_uuid, service.DEVICES, device_uuid)
    return json_response(service.get_public(session, ca, group_uuid))


@router.delete(
    "/{dataAccessGroupUuid}/devices/{deviceUuid}",
    summary="Remove a device from a data access group",
    response_model=AccessGroupPublic,
)
def remove_group_device(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    device_uuid: DeviceUuid,
) -> Response:
    service.remove_member(session, principal, ca, group_uuid, service.DEVICES, device_uuid)
    return json_response(service.get_public(session, ca, group_uuid))


@router.get(
    "/{dataAccessGroupUuid}/users",
    summary="Get the users of a data access group",
    response_model=Page[AccessGroupUserPublic],
)
def list_group_users(
    session: SessionDep,
    ca: ReadableCa,
    group_uuid: GroupUuid,
    paging: PagingDep,
    sort_by: UserSortBy = None,
) -> Response:
    group = service.get(session, ca, group_uuid)
    total, rows = paginate(session, service.users_query(group, sort_by), paging)
    results = [AccessGroupUserPublic.model_validate(row._mapping) for row in rows]
    return json_response(
        Page[AccessGroupUserPublic](total=total, results=results, take=paging.take)
    )


@router.put(
    "/{dataAccessGroupUuid}/users/{userUuid}",
    summary="Add a user to a data access group",
    response_model=AccessGroupPublic,
)
def add_group_user(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    user_uuid: UserUuid,
) -> Response:
    service.add_member(session, principal, ca, group_uuid, service.USERS, user_uuid)
    return json_response(service.get_public(session, ca, group_uuid))


@router.delete(
    "/{dataAccessGroupUuid}/users/{userUuid}",
    summary="Remove a user from a data access group",
    response_model=AccessGroupPublic,
)
def remove_group_user(
    session: SessionDep,
    principal: PrincipalDep,
    ca: AdminCa,
    group_uuid: GroupUuid,
    user_uuid: UserUuid,
) -> Response:
    service.remove_member(session, principal, ca, group_uuid, service.USERS, user_uuid)
    return json_response(service.get_public(session, ca, group_uuid))
