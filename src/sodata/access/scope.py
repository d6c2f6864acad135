"""The one place that turns "who is calling" into query filters."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import bindparam, select, true
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from sodata.access.deps import PrincipalDep
from sodata.access.principal import Principal, Right
from sodata.kit.errors import ApiError, not_found
from sodata.kit.sessions import InHop, SessionDep
from sodata.models import CorporateAccount


class Forbidden(ApiError):
    status_code = 403


def visible_corporate_accounts(principal: Principal) -> ColumnElement[bool]:
    if principal.superuser:
        return true()
    return CorporateAccount.id.in_(list(principal.roles))


RIGHT_NAMES = {Right.read: "viewer", Right.write: "manager", Right.admin: "admin"}
_BY_UUID = select(CorporateAccount).where(CorporateAccount.uuid == bindparam("uuid"))
_WITH_LINKS = _BY_UUID.options(joinedload(CorporateAccount.user_links))


def _corporate_account(right: Right, with_links: bool = False):
    async def dependency(
        session: SessionDep,
        principal: PrincipalDep,
        corporate_account_uuid: Annotated[
            uuid.UUID,
            Path(alias="corporateAccountUuid", description="UUID of the corporate account"),
        ],
    ) -> InHop[CorporateAccount]:
        """The caller's own accounts are checked here without I/O (so a caller without the
        right gets 404 or 403 before anything else, such as their body, is looked at); a
        platform operator's is looked up with the rest of the request's work."""
        if principal.superuser:
            ca_id = None
        else:
            ca_id, name = principal.accounts.get(corporate_account_uuid, (None, ""))
            held = principal.right_in(ca_id) if ca_id is not None else None
            if held is None:
                raise not_found("Corporate account", corporate_account_uuid)
            if held < right:
                raise Forbidden(
                    f"This action needs the {RIGHT_NAMES[right]} role in corporate account {name}"
                )

        def load() -> CorporateAccount:
            found = session.execute(
                _WITH_LINKS if with_links else _BY_UUID, {"uuid": corporate_account_uuid}
            )
            ca = found.unique().scalar_one_or_none()
            if ca is None:  # gone since the caller's rights were read
                raise not_found("Corporate account", corporate_account_uuid)
            return ca

        return InHop(load)

    return dependency


ReadableCa = Annotated[CorporateAccount, Depends(_corporate_account(Right.read))]
WritableCa = Annotated[CorporateAccount, Depends(_corporate_account(Right.write))]
AdminCa = Annotated[CorporateAccount, Depends(_corporate_account(Right.admin))]
# the same, with the account's user links loaded in the same query (the account's own endpoints)
ReadableCaWithLinks = Annotated[
    CorporateAccount, Depends(_corporate_account(Right.read, with_links=True))
]
AdminCaWithLinks = Annotated[
    CorporateAccount, Depends(_corporate_account(Right.admin, with_links=True))
]


async def _platform_admin(principal: PrincipalDep) -> Principal:
    """Platform-wide actions (creating accounts, disabling users): platform operators only."""
    if not principal.superuser:
        raise Forbidden("This action needs a platform administrator")
    return principal


PlatformAdmin = Annotated[Principal, Depends(_platform_admin)]
