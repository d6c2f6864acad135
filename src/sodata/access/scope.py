"""The one place that turns "who is calling" into query filters."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import select, true
from sqlalchemy.sql.elements import ColumnElement

from sodata.access.deps import PrincipalDep
from sodata.access.principal import Principal, Right
from sodata.kit.db import SessionDep
from sodata.kit.errors import ApiError, not_found
from sodata.models import CorporateAccount


class Forbidden(ApiError):
    status_code = 403


def visible_corporate_accounts(principal: Principal) -> ColumnElement[bool]:
    if principal.superuser:
        return true()
    return CorporateAccount.id.in_(list(principal.roles))


RIGHT_NAMES = {Right.read: "viewer", Right.write: "manager", Right.admin: "admin"}


def _corporate_account(right: Right):
    def dependency(
        session: SessionDep,
        principal: PrincipalDep,
        corporate_account_uuid: Annotated[
            uuid.UUID,
            Path(alias="corporateAccountUuid", description="UUID of the corporate account"),
        ],
    ) -> CorporateAccount:
        ca = session.scalar(
            select(CorporateAccount).where(
                CorporateAccount.uuid == corporate_account_uuid,
                visible_corporate_accounts(principal),
            )
        )
        if ca is None:
            raise not_found("Corporate account", corporate_account_uuid)
        held = principal.right_in(ca.id)
        if held is None or held < right:
            raise Forbidden(
                f"This action needs the {RIGHT_NAMES[right]} role in corporate account {ca.name}"
            )
        return ca

    return dependency


ReadableCa = Annotated[CorporateAccount, Depends(_corporate_account(Right.read))]
WritableCa = Annotated[CorporateAccount, Depends(_corporate_account(Right.write))]
AdminCa = Annotated[CorporateAccount, Depends(_corporate_account(Right.admin))]


async def _platform_admin(principal: PrincipalDep) -> Principal:
    """Platform-wide actions (creating accounts, disabling users): platform operators only."""
    if not principal.superuser:
        raise Forbidden("This action needs a platform administrator")
    return principal


PlatformAdmin = Annotated[Principal, Depends(_platform_admin)]
