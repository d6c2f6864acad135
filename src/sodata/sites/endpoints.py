from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import ReadableCa, WritableCa
from sodata.contacts.schemas import NestedDetails
from sodata.kit.lookup import name_param
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import exclude_nested, json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.sites import service
from sodata.sites.schemas import NESTED, SiteCreate, SitePublic, SitesCount, SiteUpdate

NameFilter = Annotated[str | None, name_param("the sites whose name contains this text")]
router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}/sites", tags=["Sites"]
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS)]

SiteUuid = Annotated[uuid.UUID, Path(alias="siteUuid", description="UUID of the site")]
CustomerFilter = Annotated[
    uuid.UUID | None, Query(alias="customerUuid", description="Only the sites of this customer")
]


@router.get("/count", summary="Count the sites", response_model=SitesCount)
def count_sites(
    session: SessionDep, ca: ReadableCa, customer_uuid: CustomerFilter = None
) -> Response:
    return json_response(SitesCount(count=service.count(session, ca, customer_uuid)))


@router.get("", summary="Get the pagination for sites", response_model=Page[SitePublic])
def list_sites(
    session: SessionDep,
    ca: ReadableCa,
    paging: PagingDep,
    details: NestedDetails,
    customer_uuid: CustomerFilter = None,
    sort_by: SortBy = None,
    name: NameFilter = None,
) -> Response:
    total, rows = paginate(
        session,
        service.query(session, ca, customer_uuid, sort_by, name=name, details=details),
        paging,
    )
    page = Page[SitePublic](
        total=total, results=[service.to_public(s, n, details) for s, n in rows], take=paging.take
    )
    return json_response(page, exclude=exclude_nested(details, NESTED, in_page=True))


@router.get("/{siteUuid}", summary="Get site by UUID", response_model=SitePublic)
def get_site(
    session: SessionDep, ca: ReadableCa, site_uuid: SiteUuid, details: NestedDetails
) -> Response:
    return json_response(
        service.get_public(session, ca, site_uuid, details), exclude=exclude_nested(details, NESTED)
    )


@router.post("", summary="Create a new site", status_code=201, response_model=SitePublic)
def create_site(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, body: SiteCreate
) -> Response:
    site = service.create(session, principal, ca, body)
    return json_response(service.get_public(session, ca, site.uuid), status_code=201)


@router.put("/{siteUuid}", summary="Update a site", response_model=SitePublic)
def update_site(
    session: SessionDep,
    principal: PrincipalDep,
    ca: WritableCa,
    site_uuid: SiteUuid,
    body: SiteUpdate,
) -> Response:
    service.update(session, principal, ca, site_uuid, body)
    return json_response(service.get_public(session, ca, site_uuid))


@router.delete("/{siteUuid}", summary="Delete a site", status_code=204)
def delete_site(
    session: SessionDep, principal: PrincipalDep, ca: WritableCa, site_uuid: SiteUuid
) -> Response:
    service.delete(session, principal, ca, site_uuid)
    return Response(status_code=204)
