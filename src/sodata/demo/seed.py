from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sodata.models import CorporateAccount


def is_empty(session: Session) -> bool:
    return session.scalar(select(CorporateAccount.id).limit(1)) is None


def seed(session: Session) -> None:
    session.add(CorporateAccount(name="SoLink"))
