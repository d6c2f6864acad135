from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from sodata.access.deps import PrincipalDep
from sodata.access.scope import AdminCa, PlatformAdmin, ReadableCa
from sodata.kit.pagination import Page, PagingDep, paginate
from sodata.kit.responses import json_response
from sodata.kit.sessions import SessionDep, SessionRoute
from sodata.kit.sorting import sort_by_param
from sodata.users import service
from sodata.users.schemas import UserCreate, UserPublic, UserUpdate

router = APIRouter(
    route_class=SessionRoute, prefix="/api/v1/ca/{corporateAccountUuid}/users", tags=["Users"]
)
SortBy = Annotated[str | None, sort_by_param(service.SORT_FIELDS, default="email")]

UserUuid = Annotated[uuid.UUID, Path(alias="userUuid", description="UUID of the user")]


@router.get("", summary="Get the pagination for users", response_model=Page[UserPublic])
def list_users(
    session: SessionDep, ca: ReadableCa, paging: PagingDep, sort_by: SortBy = None
) -> Response:
    total, rows = paginate(session, service.query(ca, sort_by), paging)
    results = [service.to_public(user, role) for user, role in rows]
    return json_response(Page[UserPublic](total=total, results=results, take=paging.take))


@router.get("/{userUuid}", summary="Get user by UUID", response_model=UserPublic)
def get_user(session: SessionDep, ca: ReadableCa, user_uuid: UserUuid) -> Response:
    return json_response(service.get_public(session, ca, user_uuid))


@router.post(
    "",
    summary="Add a user to the corporate account",
    description="Creates the user when the email is unknown (with `name`; `password` from "
    "platform administrators only, 400 otherwise). Only a platform administrator links an "
    "existing user (409 when already linked); an account admin gets the same 409 for every "
    "known email.",
    status_code=201,
    response_model=UserPublic,
)
def add_user(
    session: SessionDep, principal: PrincipalDep, ca: AdminCa, body: UserCreate
) -> Response:
    user = service.add_to_account(session, principal, ca, body)
    return json_response(service.get_public(session, ca, user.uuid), status_code=201)


@router.put(
    "/{userUuid}",
    summary="Update a user",
    description="Changes the user's role in this corporate account and their name. "
    "The account's last admin keeps the admin role (409). The name shows in every account: "
    "only a platform administrator renames a user linked to other accounts too, or a platform "
    "administrator (403).",
    response_model=UserPublic,
)
def update_user(
    session: SessionDep, principal: PrincipalDep, ca: AdminCa, user_uuid: UserUuid, body: UserUpdate
) -> Response:
    service.update(session, principal, ca, user_uuid, body)
    return json_response(service.get_public(session, ca, user_uuid))


@router.delete(
    "/{userUuid}",
    summary="Remove a user from the corporate account",
    description="Unlinks the user (and removes them from the account's data access groups); "
    "the user keeps their other accounts. The account's last admin stays (409).",
    status_code=204,
)
def remove_user(
    session: SessionDep, principal: PrincipalDep, ca: AdminCa, user_uuid: UserUuid
) -> Response:
    service.unlink_user(session, principal, ca, service.get_linked(session, ca, user_uuid))
    return Response(status_code=204)


# The account comes first, so a caller who is no member of it gets a 404 before anything else.
@router.put(
    "/{userUuid}/disable",
    summary="Disable a user",
    description="Platform administrators only, since a user spans corporate accounts: the "
    "user can no longer sign in and their sessions end at once.",
    response_model=UserPublic,
)
def disable_user(
    session: SessionDep, ca: AdminCa, principal: PlatformAdmin, user_uuid: UserUuid
) -> Response:
    service.set_enabled(session, principal, service.get_linked(session, ca, user_uuid), False)
    return json_response(service.get_public(session, ca, user_uuid))


@router.put(
    "/{userUuid}/enable",
    summary="Enable a user",
    description="Platform administrators only: the user may sign in again.",
    response_model=UserPublic,
)
def enable_user(
    session: SessionDep, ca: AdminCa, principal: PlatformAdmin, user_uuid: UserUuid
) -> Response:
    service.set_enabled(session, principal, service.get_linked(session, ca, user_uuid), True)
    return json_response(service.get_public(session, ca, user_uuid))
