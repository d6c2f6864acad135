from __future__ import annotations

from uuid import UUID

from sodata.kit.schemas import CamelModel, WriteModel
from sodata.kit.types import Name, Str32, Str255


class UserLinkPublic(CamelModel):
    uuid: UUID
    status: str
    is_support: bool
    corporate_account_id: int
    user_id: int
    role: str


class CorporateAccountPublic(CamelModel):
    default_customer_uuid: UUID | None
    uuid: UUID
    name: str
    activation_type: str
    email_to: str | None
    email_cc: str | None
    can_publish: bool
    auto_template_synchro: bool
    is_multi_customer_account: bool
    active: bool
    moving_authorization: str
    icon_uuid: UUID | None
    user_links: list[UserLinkPublic]
    is_master: bool


class CorporateAccountUpdate(WriteModel):
    read_only_from = (CorporateAccountPublic,)

    name: Name | None = None
    default_customer_uuid: UUID | None = None
    activation_type: Str32 | None = None
    email_to: Str255 | None = None
    email_cc: Str255 | None = None
    can_publish: bool | None = None
    auto_template_synchro: bool | None = None
    is_multi_customer_account: bool | None = None
    active: bool | None = None
    moving_authorization: Str32 | None = None


class CorporateAccountCreate(CorporateAccountUpdate):
    name: Name
