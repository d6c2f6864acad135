from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa, WritableCa
from sodata.contacts.schemas import NestedDetails
from sodata.customers import service
from sodata.customers.schemas import NESTED, CustomerCreate, CustomerPublic, CustomerUpdate
from sodata.icons.service import (
    ICON_RESPONSES,
    ICON_UPLOAD_OPENAPI,
    icon_response,
    read_icon_upload,
)
from sodata.kit.lookup import name_param
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import exclude_nested, json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.models import Icon

NameFilter = Annotated[str | None, name_param("the customers whose name contains this text")]
router = APIRouter(
    route_class=SessionRoute,
    prefix="/api/v1/ca/{corporateAccountUuid}/customers",
    tags=["Customers"],
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS)]

CustomerUuid = Annotated[uuid.UUID, Path(alias="customerUuid", description="UUID of the customer")]


@router.get("", summary="Get the pagination for customers", response_model=Page[CustomerPublic])
def list_customers(
    session: SessionDep,
    ca: ReadableCa,
    paging: PagingDep,
    details: NestedDetails,
    sort_by: SortBy = None,
    name: NameFilter = None,
) -> Response:
    total, rows = paginate(session, service.query(ca, sort_by, name=name, details=details), paging)
    page = Page[CustomerPublic](
        total=total, results=[service.to_public(c, n, details) for c, n in rows], take=paging.take
    )
    return json_response(page, exclude=exclude_nested(details, NESTED, in_page=True))


@router.get("/{customerUuid}", summary="Get customer by UUID", response_model=CustomerPublic)
def get_customer(
    session: SessionDep, ca: ReadableCa, customer_uuid: CustomerUuid, details: NestedDetails
) -> Response:
    return json_response(
        service.get_public(session, ca, customer_uuid, details),
        exclude=exclude_nested(details, NESTED),
    )


@router.post("", summary="Create a new customer", status_code=201, response_model=CustomerPublic)
def create_customer(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, body: CustomerCreate
) -> Response:
    customer = service.create(session, principal, ca, body)
    return json_response(service.get_public(session, ca, customer.uuid), status_code=201)


@router.put("/{customerUuid}", summary="Update a customer", response_model=CustomerPublic)
def update_customer(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    customer_uuid: CustomerUuid,
    body: CustomerUpdate,
) -> Response:
    service.update(session, principal, ca, customer_uuid, body)
    return json_response(service.get_public(session, ca, customer_uuid))


@router.delete("/{customerUuid}", summary="Delete a customer", status_code=204)
def delete_customer(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, customer_uuid: CustomerUuid
) -> Response:
    service.delete(session, principal, ca, customer_uuid)
    return Response(status_code=204)


@router.get(
    "/{customerUuid}/icon",
    summary="Get customer icon image",
    response_class=Response,
    responses=ICON_RESPONSES,
)
def get_customer_icon(session: SessionDep, ca: ReadableCa, customer_uuid: CustomerUuid) -> Response:
    return icon_response(service.get(session, ca, customer_uuid).icon, "customer", customer_uuid)


@router.put(
    "/{customerUuid}/icon",
    summary="Update a customer icon",
    response_model=CustomerPublic,
    openapi_extra=ICON_UPLOAD_OPENAPI,
)
def put_customer_icon(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    customer_uuid: CustomerUuid,
    icon: Annotated[Icon, Depends(read_icon_upload)],
) -> Response:
    service.set_icon(session, principal, ca, customer_uuid, icon)
    return json_response(service.get_public(session, ca, customer_uuid))
