"""The group counters, against a real migrated database (the data-rights filter built on the
same membership rules is tested in tests/access/test_data.py, with this module's World).

Runs on SQLite (a temp file) and on PostgreSQL (a fresh database), like the HTTP tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from sodata.access_groups import service
from sodata.models import (
    AccessGroup,
    AccessGroupCustomer,
    AccessGroupDevice,
    AccessGroupUser,
    CorporateAccount,
    Customer,
    Device,
    DeviceShare,
    DeviceType,
    Site,
    User,
    UserLink,
)
from tests.conftest import BACKENDS, fresh_database, open_session


@pytest.fixture(params=BACKENDS)
def session(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    with fresh_database(request.param, tmp_path) as url, open_session(url) as s:
        yield s


class World:
    """Two accounts; in `ca`: customers A (sites A1 with d1, d2; A2 with d3) and B (site B1 with d4,
    d5), and d6 on no site; B1 shows d1 as shared. `other` has customer X with device x1."""

    def __init__(self, s: Session) -> None:
        dtype = DeviceType(reference_id="T1", name="t", model_name="t", manufacturer="t")
        self.ca, self.other = CorporateAccount(name="CA"), CorporateAccount(name="Other")
        s.add_all([dtype, self.ca, self.other])
        s.flush()
        self.a, self.b = (
            Customer(corporate_account_id=self.ca.id, name="A"),
            Customer(corporate_account_id=self.ca.id, name="B"),
        )
        self.x = Customer(corporate_account_id=self.other.id, name="X")
        s.add_all([self.a, self.b, self.x])
        s.flush()
        sites = {
            name: Site(
                corporate_account_id=cust.corporate_account_id, customer_id=cust.id, name=name
            )
            for name, cust in (("A1", self.a), ("A2", self.a), ("B1", self.b), ("X1", self.x))
        }
        s.add_all(sites.values())
        s.flush()
        self.d = {}
        for name, site, ca in (
            ("d1", "A1", self.ca),
            ("d2", "A1", self.ca),
            ("d3", "A2", self.ca),
            ("d4", "B1", self.ca),
            ("d5", "B1", self.ca),
            ("d6", None, self.ca),
            ("x1", "X1", self.other),
        ):
            self.d[name] = Device(
                corporate_account_id=ca.id,
                site_id=sites[site].id if site else None,
                device_type_id=dtype.id,
                name=name,
                serial_number=name,
            )
        s.add_all(self.d.values())
        s.flush()
        s.add(DeviceShare(device_id=self.d["d1"].id, site_id=sites["B1"].id))
        self.alice, self.bob = User(email="alice@example.com"), User(email="bob@example.com")
        s.add_all([self.alice, self.bob])
        s.flush()
        s.add_all(
            [
                UserLink(corporate_account_id=self.ca.id, user_id=self.alice.id),
                UserLink(corporate_account_id=self.other.id, user_id=self.alice.id),
            ]
        )
        s.flush()

    def ids(self, *names: str) -> set[int]:
        return {self.d[n].id for n in names}


def group(
    s: Session, ca: CorporateAccount, name: str, customers=(), devices=(), users=()
) -> AccessGroup:
    g = AccessGroup(corporate_account_id=ca.id, name=name)
    s.add(g)
    s.flush()
    s.add_all([AccessGroupCustomer(access_group_id=g.id, customer_id=c.id) for c in customers])
    s.add_all([AccessGroupDevice(access_group_id=g.id, device_id=d.id) for d in devices])
    s.add_all([AccessGroupUser(access_group_id=g.id, user_id=u.id) for u in users])
    s.flush()
    return g


def test_counters_of_the_list_query_count_each_device_once(session):
    w = World(session)
    fr = group(
        session,
        w.ca,
        "FR",
        customers=[w.a, w.b],
        devices=[w.d["d1"], w.d["d6"]],
        users=[w.alice, w.bob],
    )
    group(session, w.ca, "Empty")
    rows = {g.name: (c, d, u) for g, c, d, u in session.execute(service.query(w.ca))}
    # A: d1 d2 d3, B: d4 d5 (+ d1 shared), direct: d1 (again) and d6
    assert rows == {"FR": (2, 6, 2), "Empty": (0, 0, 0)}
    assert service.get_public(session, w.ca, fr.uuid).devices_quantity == 6
    assert [g.name for g, *_ in session.execute(service.query(w.ca, name="fr"))] == ["FR"]
    assert [g.name for g, *_ in session.execute(service.query(w.other))] == []
