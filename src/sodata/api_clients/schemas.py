from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from sodata.access.principal import Role
from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.types import NoNul, Str255

# Its characters are checked by the service (the CLI uses it too).
ClientId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    NoNul,
    Field(
        description="The client_id the application signs in with: letters, digits, . _ ~ -",
        examples=["erp-export"],
    ),
]


class ClientPublic(CamelModel):
    uuid: UUID
    client_id: str
    name: str | None
    role: Role = Field(description="What the client may do in this corporate account")
    gateway_uuid: UUID | None = Field(
        description="The gateway device whose data the client may send"
    )
    grant_types: list[str]
    enabled: bool
    created_at: Timestamp


class ClientWithSecret(ClientPublic):
    client_secret: str = Field(
        description="Shown in this answer only (stored hashed): keep it now, or regenerate it"
    )


class ClientCreate(WriteModel):
    read_only_from = (ClientPublic,)

    client_id: ClientId
    name: Str255 | None = None
    role: Role
    gateway_uuid: UUID | None = None
