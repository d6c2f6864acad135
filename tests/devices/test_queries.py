"""How many SQL statements the services emit, counted on a direct session over the demo data:
a list page costs the same whatever its size, and a lookup joins only what its answer shows.

Runs on SQLite (a temp file) and on PostgreSQL (a fresh database), like the HTTP tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sodata.access.principal import Principal
from sodata.catalog import service as catalog
from sodata.catalog.endpoints import device_type_public
from sodata.customers import service as customers
from sodata.demo import ids
from sodata.devices import service as devices
from sodata.kit.db import make_engine, make_sessionmaker
from sodata.kit.pagination import Paging, paginate
from sodata.models import CorporateAccount, Device, DeviceType, Variable
from sodata.sites import service as sites
from tests.conftest import BACKENDS, fresh_database

ALL = frozenset({"contact", "address"})


@pytest.fixture(scope="module", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with fresh_database(request.param, tmp_path_factory.mktemp("queries"), demo=True) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session rolled back after the test, so that tests do not see each other's changes."""
    with make_sessionmaker(engine)() as s:
        yield s
        s.rollback()


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs."""
    sent: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        sent.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def joins(statement: str) -> int:
    return len(re.findall(r"\bJOIN\b", statement))


def solink(session: Session) -> CorporateAccount:
    return session.scalar(select(CorporateAccount).where(CorporateAccount.uuid == ids.SOLINK))


# name -> (the list statement of an account, what makes an answer of one row, the most
# statements a page may take: the total, the page, and one per kind of nested object shown)
LISTS = {  # the statement of a page, its answers from its rows, the most statements allowed
    "devices": (
        devices.query,
        lambda session, rows: devices.to_public(session, rows, ALL),
        4,  # contacts, addresses
    ),
    "customers": (
        lambda _session, ca: customers.query(ca, details=ALL),
        lambda _session, rows: [customers.to_public(*row, ALL) for row in rows],
        5,  # + icons
    ),
    "sites": (
        lambda session, ca: sites.query(session, ca, details=ALL),
        lambda _session, rows: [sites.to_public(*row, ALL) for row in rows],
        4,
    ),
    "device types": (
        lambda _session, _ca: catalog.device_types(),
        lambda _session, rows: [device_type_public(row) for row in rows],
        3,  # profiles
    ),
}


def page_cost(session: Session, name: str, take: int) -> tuple[int, int]:
    """(statements, results) of one page of answers, as a request makes it: the account is
    in the session, nothing else is."""
    stmt_of, to_public, _ = LISTS[name]
    session.expunge_all()
    ca = solink(session)
    with statements(session) as sent:
        listing = stmt_of(session, ca)  # a statement, or a statement and its bind parameters
        stmt, params = listing if isinstance(listing, tuple) else (listing, None)
        _, rows = paginate(session, stmt, Paging(take=take, skip=0), params)
        results = to_public(session, rows)
    return len(sent), len(results)


@pytest.mark.parametrize("name", list(LISTS))
def test_a_list_page_costs_a_bounded_number_of_statements(session: Session, name: str) -> None:
    most = LISTS[name][2]
    for take in (1, 5, 1000):
        cost, results = page_cost(session, name, take)
        assert cost <= most, (take, cost)
    assert results > most + 1, "the demo data must give a page of more results than that"


# the total and the page (and the customers' icons)
@pytest.mark.parametrize(("listing", "bare"), [(customers.query, 3), (sites.query, 2)])
def test_a_page_without_details_loads_no_contact_nor_address(
    session: Session, listing, bare: int
) -> None:
    """detailsLevel and withContact/withAddress decide what is loaded, not only what is shown."""

    def cost(details: frozenset[str]) -> int:
        session.expunge_all()
        ca = solink(session)
        args = (ca,) if listing is customers.query else (session, ca)
        with statements(session) as sent:
            _, rows = paginate(session, listing(*args, details=details), Paging(take=50, skip=0))
        assert rows
        return len(sent)

    assert cost(frozenset()) == bare
    assert cost(ALL) > bare  # the contacts and the addresses (those the demo has)


def test_a_device_lookup_joins_only_what_the_answer_shows(session: Session) -> None:
    ca = solink(session)
    with statements(session) as sent:
        answer = devices.get_public(session, ca, ids.DELPHYS_GP2, frozenset())
    assert answer.site_uuid == ids.BENFELD_U3 and answer.gateway_uuid == ids.BENFELD_U3_GATEWAY
    assert len(sent) == 1
    assert joins(sent[0]) == 3, sent[0]  # its type, its site and its gateway; nothing beyond

    session.expunge_all()
    with statements(session) as sent:
        device = devices.get(session, ca, ids.DELPHYS_GP2)
    assert device.name == "Delphys GP2 - 160 kVA"
    assert len(sent) == 1 and joins(sent[0]) == 0, sent


def break_profiles(session: Session, ca: CorporateAccount, how_many: int) -> list[Device]:
    """Devices of the account that lose one profile variable each."""
    chosen = session.scalars(
        select(Device)
        .join(DeviceType)
        .where(
            Device.corporate_account_id == ca.id,
            Device.site_id.is_not(None),
            DeviceType.uuid == ids.DELPHYS_TYPE,
        )
        .order_by(Device.id)
        .limit(how_many)
    ).all()
    assert len(chosen) == how_many
    for device in chosen:
        session.delete(
            session.scalars(select(Variable).where(Variable.device_id == device.id)).first()
        )
        device.profile_is_up_to_date = False
    session.flush()
    session.expunge_all()
    return chosen


@pytest.mark.parametrize("how_many", [1, 4])
def test_repair_all_reads_in_a_fixed_number_of_queries(session: Session, how_many: int) -> None:
    ca = solink(session)
    broken = break_profiles(session, ca, how_many)
    ca = solink(session)
    with statements(session) as sent:
        result = devices.repair_all(session, Principal(user_id=None, superuser=True), ca)
    assert sorted(result.devices) == sorted(d.uuid for d in broken)
    assert result.created_variables == how_many
    reads = [s for s in sent if s.lstrip().upper().startswith("SELECT")]
    # the devices, their types, the profiles, the items, the variables
    assert len(reads) == 5, reads
