from __future__ import annotations

from uuid import UUID

from sodata.contacts.schemas import AddressPublic, AddressWrite, ContactPublic, ContactWrite
from sodata.kit.schemas import CamelModel, WriteModel
from sodata.kit.types import Name, Str32, Str255, Text


class CustomerPublic(CamelModel):
    uuid: UUID
    email_to: str | None
    email_cc: str | None
    technical_name: str | None
    name: str
    reference: str | None
    description: str | None
    visibility: str | None
    corporate_account_id: int
    additional_information: str | None
    moving_authorization: str
    corporate_account_uuid: UUID
    icon_uuid: UUID | None
    company_address: AddressPublic | None = None
    contact: ContactPublic | None = None
    sites_quantity: int


NESTED = {"contact": "contact", "address": "company_address"}


class CustomerUpdate(WriteModel):
    read_only_from = (CustomerPublic,)

    name: Name | None = None
    email_to: Str255 | None = None
    email_cc: Str255 | None = None
    technical_name: Str255 | None = None
    reference: Str255 | None = None
    description: Text | None = None
    visibility: Str255 | None = None
    additional_information: Text | None = None
    moving_authorization: Str32 | None = None
    company_address: AddressWrite | None = None
    contact: ContactWrite | None = None


class CustomerCreate(CustomerUpdate):
    name: Name
