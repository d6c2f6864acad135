from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from sodata.access.principal import Role
from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.types import NoNul, Str255

# The email's format and the password's length are checked by the service (the CLI uses it
# too), which never quotes a password back.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    NoNul,
    Field(description="The user's email address, their sign-in name (case-insensitive)"),
]
Password = Annotated[
    str,
    StringConstraints(max_length=1024),
    Field(description="At least 8 characters; stored hashed (argon2id), never shown"),
]


class UserPublic(CamelModel):
    uuid: uuid.UUID
    email: str
    name: str | None
    role: Role = Field(description="The user's role in this corporate account")
    enabled: bool = Field(description="False once a platform administrator disabled the user")
    created_at: Timestamp


class UserUpdate(WriteModel):
    read_only_from = (UserPublic,)

    role: Role | None = None
    name: Str255 | None = None


class UserCreate(UserUpdate):
    """Adds the user with this email to the account: creates the user if the email is unknown
    (name applies, and a password sent by a platform administrator), or - for a platform
    administrator only - links the existing user (a password is then refused)."""

    email: Email
    role: Role
    password: Password | None = None
