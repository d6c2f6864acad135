from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import AdminCaWithLinks, PlatformAdmin, ReadableCaWithLinks
from sodata.corporate_accounts import service
from sodata.corporate_accounts.schemas import (
    CorporateAccountCreate,
    CorporateAccountPublic,
    CorporateAccountUpdate,
)
from sodata.kit.lookup import name_param
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param

NameFilter = Annotated[str | None, name_param("the accounts whose name contains this text")]
router = APIRouter(route_class=SessionRoute, prefix="/api/v1/ca", tags=["Corporate Accounts"])
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS)]


@router.get(
    "",
    summary="Get the pagination for corporate accounts",
    response_model=Page[CorporateAccountPublic],
)
def list_corporate_accounts(
    session: SessionDep,
    principal: PrincipalDep,
    paging: PagingDep,
    sort_by: SortBy = None,
    name: NameFilter = None,
) -> Response:
    total, rows = paginate(session, service.query(principal, sort_by, name=name), paging)
    return json_response(
        Page[CorporateAccountPublic](
            total=total, results=[service.to_public(ca, principal) for ca in rows], take=paging.take
        )
    )


@router.get(
    "/{corporateAccountUuid}",
    summary="Get corporate account by UUID",
    response_model=CorporateAccountPublic,
)
def get_corporate_account(principal: PrincipalDep, ca: ReadableCaWithLinks) -> Response:
    return json_response(service.to_public(ca, principal))


@router.post(
    "",
    summary="Create a new corporate account.",
    status_code=201,
    response_model=CorporateAccountPublic,
)
def create_corporate_account(
    session: SessionDep, principal: PlatformAdmin, body: CorporateAccountCreate
) -> Response:
    return json_response(
        service.to_public(service.create(session, principal, body), principal), status_code=201
    )


@router.put(
    "/{corporateAccountUuid}",
    summary="Update one corporate account.",
    response_model=CorporateAccountPublic,
)
def update_corporate_account(
    session: SessionDep, principal: PrincipalDep, ca: AdminCaWithLinks, body: CorporateAccountUpdate
) -> Response:
    return json_response(service.to_public(service.update(session, principal, ca, body), principal))
