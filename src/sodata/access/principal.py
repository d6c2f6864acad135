"""Who is calling, and what their role is in each corporate account."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from uuid import UUID


class Role(StrEnum):
    """Functional rights in one corporate account, held on the user's link to it."""

    viewer = "viewer"  # reads objects
    manager = "manager"  # also creates, updates and deletes customers, sites, devices, variables
    admin = "admin"  # also manages the account itself, its DAGs and its users; reads every device's data


class Right(IntEnum):
    read = 1
    write = 2
    admin = 3


ROLE_RIGHT = {Role.viewer: Right.read, Role.manager: Right.write, Role.admin: Right.admin}


@dataclass(frozen=True)
class Principal:
    user_id: int | None
    email: str | None = None
    superuser: bool = False  # a platform operator: admin of every corporate account
    roles: Mapping[int, Role] = field(default_factory=dict)  # corporate account id -> role
    # the accounts of `roles` by uuid -> (id, name): a request's account is checked without I/O
    accounts: Mapping[UUID, tuple[int, str]] = field(default_factory=dict)
    client_id: str | None = None  # an API client acting through its service account
    gateway_device_id: int | None = None  # the gateway such a client may send data for

    def right_in(self, ca_id: int) -> Right | None:
        if self.superuser:
            return Right.admin
        role = self.roles.get(ca_id)
        return ROLE_RIGHT[role] if role else None
