"""The caller of a request.

Until sign-in lands (the identity issue), every caller is unrestricted: run the server
on loopback only. The identity package will replace `current_principal` with one that
reads the Bearer token; nothing else changes, since all filtering starts from here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from sodata.access.principal import Principal


def current_principal() -> Principal:
    return Principal.unrestricted()


PrincipalDep = Annotated[Principal, Depends(current_principal)]
