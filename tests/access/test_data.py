"""readable_devices, the one filter of device data rights, against real migrated databases:
the demo data (its users and DAGs) and small hand-made worlds. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sodata.access.data import readable_devices
from sodata.access.principal import Principal, Role
from sodata.catalog.service import sync_catalog
from sodata.demo import ids
from sodata.demo.seed import seed
from sodata.models import (
    AccessGroupCustomer,
    CorporateAccount,
    Customer,
    Device,
    Site,
    User,
    UserLink,
)
from tests.access_groups.test_service import World, group
from tests.conftest import BACKENDS, fresh_database, open_session


@pytest.fixture(scope="module", params=BACKENDS)
def demo_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database with the demo data (catalog synced first, as `serve --demo` does)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("data")) as url:
        with open_session(url) as s:
            sync_catalog(s)
            seed(s)
            s.commit()
        yield url


@pytest.fixture
def demo(demo_db: str) -> Iterator[Session]:
    """A session on the demo database whose changes are rolled back after the test."""
    with open_session(demo_db) as s:
        yield s
        s.rollback()


@pytest.fixture(params=BACKENDS)
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    with fresh_database(request.param, tmp_path) as url, open_session(url) as s:
        yield s


def principal_of(s: Session, email: str) -> Principal:
    """The principal a token of this user gets (as access.deps builds it)."""
    user = s.scalar(select(User).where(User.email == email))
    links = s.execute(
        select(UserLink.corporate_account_id, UserLink.role).where(UserLink.user_id == user.id)
    ).all()
    return Principal(
        user_id=user.id,
        email=user.email,
        superuser=user.is_superuser,
        roles={ca_id: Role(role) for ca_id, role in links},
    )


def readable(s: Session, principal: Principal, ca: CorporateAccount) -> set[str]:
    """Names of the readable devices; the filter alone, with no other condition on accounts."""
    names = list(s.scalars(select(Device.name).where(readable_devices(principal, ca))))
    assert len(names) == len(set(names)), "each device comes once"
    return set(names)


def account(s: Session, name: str) -> CorporateAccount:
    return s.scalar(select(CorporateAccount).where(CorporateAccount.name == name))


def devices_of(s: Session, ca: CorporateAccount, customer_prefix: str = "") -> set[str]:
    return set(
        s.scalars(
            select(Device.name)
            .join(Site, Site.id == Device.site_id)
            .join(Customer, Customer.id == Site.customer_id)
            .where(
                Device.corporate_account_id == ca.id,
                Customer.name.startswith(customer_prefix),
            )
        )
    )


def test_a_viewer_reads_only_the_devices_of_their_dags(demo):
    solink = account(demo, "SoLink")
    fr = devices_of(demo, solink, "FR_")  # the customers of the DAG SoLink FR
    everything = devices_of(demo, solink)
    seen = readable(demo, principal_of(demo, ids.VIEWER_EMAIL), solink)
    assert seen == fr
    assert fr and len(fr) < len(everything)
    assert "Masterys U2 CDS" in seen  # FR_Socomec's
    # nothing of the accounts the viewer is not in
    assert readable(demo, principal_of(demo, ids.VIEWER_EMAIL), account(demo, "SOCOMEC")) == set()


def test_an_admin_of_the_account_reads_all_its_devices_and_only_them(demo):
    solink = account(demo, "SoLink")
    everything = devices_of(demo, solink)
    assert readable(demo, principal_of(demo, ids.DEMO_EMAIL), solink) == everything
    assert len(everything) == 74
    # the demo@ admin of SoLink is no member of SOCOMEC; the platform operator reads it all
    socomec = account(demo, "SOCOMEC")
    assert readable(demo, principal_of(demo, ids.DEMO_EMAIL), socomec) == set()
    assert readable(demo, principal_of(demo, ids.ADMIN_EMAIL), socomec) == devices_of(demo, socomec)


def test_a_user_of_another_account_reads_nothing_there(demo):
    other = principal_of(demo, ids.OTHER_EMAIL)
    assert readable(demo, other, account(demo, "SoLink")) == set()
    # a manager with no DAG reads no data even in their own account
    assert readable(demo, other, account(demo, "Energy Storage")) == set()


def test_an_unlinked_user_reads_nothing_even_with_an_old_principal(demo):
    solink = account(demo, "SoLink")
    stale = principal_of(demo, ids.VIEWER_EMAIL)  # built while still linked
    demo.execute(
        delete(UserLink).where(
            UserLink.user_id == stale.user_id, UserLink.corporate_account_id == solink.id
        )
    )
    demo.flush()
    assert readable(demo, stale, solink) == set()


def test_api_clients_read_data_only_as_admins_of_their_account(demo):
    solink = account(demo, "SoLink")
    for role, expected in (
        (Role.viewer, set()),
        (Role.manager, set()),
        (Role.admin, devices_of(demo, solink)),
    ):
        client = Principal(user_id=None, client_id="erp", roles={solink.id: role})
        assert readable(demo, client, solink) == expected, role
    bound_elsewhere = Principal(
        user_id=None, client_id="erp", roles={account(demo, "SOCOMEC").id: Role.admin}
    )
    assert readable(demo, bound_elsewhere, solink) == set()


def ids_of(s: Session, principal: Principal, ca: CorporateAccount) -> set[int]:
    return set(s.scalars(select(Device.id).where(readable_devices(principal, ca))))


def member(w: World, user: User, *accounts: CorporateAccount) -> Principal:
    return Principal(user_id=user.id, roles={ca.id: Role.viewer for ca in accounts})


def test_the_dag_branch_follows_the_users_groups(empty):
    w = World(empty)
    alice = member(w, w.alice, w.ca, w.other)
    assert ids_of(empty, alice, w.ca) == set()  # linked but in no group: nothing
    group(empty, w.ca, "FR", customers=[w.a], devices=[w.d["d4"], w.d["d1"]], users=[w.alice])
    # every device of every site of A, plus d4; d1 both ways comes once
    assert ids_of(empty, alice, w.ca) == w.ids("d1", "d2", "d3", "d4")
    group(empty, w.ca, "Loose", devices=[w.d["d6"]], users=[w.alice])
    assert ids_of(empty, alice, w.ca) == w.ids("d1", "d2", "d3", "d4", "d6")
    group(empty, w.ca, "Not hers", customers=[w.b])  # a group she is not in gives her nothing
    assert ids_of(empty, alice, w.ca) == w.ids("d1", "d2", "d3", "d4", "d6")
    # the groups of one account never open devices of another
    assert ids_of(empty, alice, w.other) == set()
    group(empty, w.other, "X", customers=[w.x], users=[w.alice])
    assert ids_of(empty, alice, w.other) == w.ids("x1")
    assert w.d["x1"].id not in ids_of(empty, alice, w.ca)


def test_the_dag_branch_includes_devices_shared_with_a_member_customers_site(empty):
    w = World(empty)
    empty.add(UserLink(corporate_account_id=w.ca.id, user_id=w.bob.id))
    g = group(empty, w.ca, "B only", customers=[w.b], users=[w.bob])
    bob = member(w, w.bob, w.ca)
    assert ids_of(empty, bob, w.ca) == w.ids("d4", "d5", "d1")  # d1 is shared with B1
    empty.delete(empty.get(AccessGroupCustomer, (g.id, w.b.id)))
    empty.flush()
    assert ids_of(empty, bob, w.ca) == set()
