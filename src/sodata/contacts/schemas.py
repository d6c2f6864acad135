"""Addresses and contacts, shared by customers, sites and devices: their wire models and the
query parameters that ask for them (`NestedDetails`)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query
from pydantic import Field

from sodata.kit.db import MAX_FILTER_LENGTH
from sodata.kit.errors import BadRequest
from sodata.kit.schemas import CamelModel, WriteModel
from sodata.kit.types import Listed, Str255


class AddressPublic(CamelModel):
    uuid: UUID
    use_parent: bool
    street: str | None
    post_code: str | None
    city: str | None
    country: str | None
    state: str | None


class ContactPublic(CamelModel):
    uuid: UUID
    use_parent: bool
    name: str | None
    phone: str | None
    mobile: str | None
    email: str | None
    email_cc: str | None = Field(default=None, alias="emailCC")  # the spec spells it so


class AddressWrite(WriteModel):
    read_only_from = (AddressPublic,)
    use_parent: bool = False
    street: Str255 | None = None
    post_code: Str255 | None = None
    city: Str255 | None = None
    country: Str255 | None = None
    state: Str255 | None = None


class ContactWrite(WriteModel):
    read_only_from = (ContactPublic,)
    use_parent: bool = False
    name: Str255 | None = None
    phone: Str255 | None = None
    mobile: Str255 | None = None
    email: Str255 | None = None
    email_cc: Str255 | None = Field(default=None, alias="emailCC")


DETAILS_LEVELS = ("DEFAULT", "ALL")


async def nested_details(  # async: no I/O, so no trip through the thread pool
    details_level: Annotated[
        str | None,
        Query(
            alias="detailsLevel",
            max_length=MAX_FILTER_LENGTH,
            description="DEFAULT, or ALL to include the contact and the address",
        ),
        Listed(DETAILS_LEVELS),
    ] = None,
    with_contact: Annotated[
        bool, Query(alias="withContact", description="Include the contact")
    ] = False,
    with_address: Annotated[
        bool, Query(alias="withAddress", description="Include the address")
    ] = False,
) -> frozenset[str]:
    """Which nested objects to include in the answer: "contact" and/or "address"."""
    level = (details_level or "DEFAULT").upper()
    if level not in DETAILS_LEVELS:
        raise BadRequest(
            f"detailsLevel: unknown value {details_level!r}; use one of {', '.join(DETAILS_LEVELS)}"
        )
    wanted = set()
    if with_contact or level == "ALL":
        wanted.add("contact")
    if with_address or level == "ALL":
        wanted.add("address")
    return frozenset(wanted)


NestedDetails = Annotated[frozenset[str], Depends(nested_details)]
