"""What the API cannot show: rows left behind. Against a real migrated database (SQLite and
PostgreSQL, like the HTTP tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sodata.access.principal import Principal
from sodata.customers import service as customers
from sodata.customers.schemas import CustomerCreate
from sodata.models import Address, Contact, CorporateAccount, Icon
from tests.conftest import BACKENDS, fresh_database, open_session


@pytest.fixture(params=BACKENDS)
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    with fresh_database(request.param, tmp_path) as url, open_session(url) as s:
        yield s


def rows(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_deleting_a_customer_deletes_its_icon_contact_and_address(session: Session) -> None:
    who = Principal(user_id=None, superuser=True)  # a platform operator
    ca = CorporateAccount(name="CA")
    session.add(ca)
    session.flush()
    body = CustomerCreate.model_validate(
        {"name": "C", "contact": {"name": "A"}, "companyAddress": {"city": "Benfeld"}}
    )
    customer = customers.create(session, who, ca, body)
    customers.set_icon(session, who, ca, customer.uuid, Icon(content_type="image/png", data=b"1"))
    customers.set_icon(session, who, ca, customer.uuid, Icon(content_type="image/png", data=b"2"))
    session.flush()
    assert (rows(session, Icon), rows(session, Contact), rows(session, Address)) == (1, 1, 1)

    customers.delete(session, who, ca, customer.uuid)
    session.flush()
    assert (rows(session, Icon), rows(session, Contact), rows(session, Address)) == (0, 0, 0)
