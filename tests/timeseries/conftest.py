"""The engine on a real migrated database (SQLite file and PostgreSQL): a store whose tests
each take new variables of their own, write points with sodata.timeseries.store.write and
read them with sodata.timeseries.query."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy.orm import Session

from sodata.models import CorporateAccount, Device, DeviceType, Item, Service, Variable
from sodata.timeseries import query, store
from tests.conftest import BACKENDS, fresh_database, open_session
from tests.timeseries import recompute


class Engine:
    """One session on a fresh database with a device; `variable()` makes a new series."""

    def __init__(self, session: Session, backend: str) -> None:
        self.session = session
        self.backend = backend
        dtype = DeviceType(reference_id="T", name="t", model_name="t", manufacturer="t")
        ca = CorporateAccount(name="Time series")
        self.service = Service(service_id="999001", name="Load", type="Measure", group="Test")
        session.add_all([dtype, ca, self.service])
        session.flush()
        self.device = Device(
            corporate_account_id=ca.id, device_type_id=dtype.id, name="d", serial_number="d"
        )
        session.add(self.device)
        session.commit()
        self._index = itertools.count()

    def variable(self) -> int:
        """A new variable (series) with no point."""
        self.session.rollback()  # whatever a failed test left
        item = Item(device_id=self.device.id, item_type="Global", index=next(self._index))
        self.session.add(item)
        self.session.flush()
        variable = Variable(device_id=self.device.id, item_id=item.id, service_id=self.service.id)
        self.session.add(variable)
        self.session.commit()
        return variable.id

    def write(self, vid: int, points: Mapping[int, float] | list[tuple[int, float]]) -> None:
        """One batch (one call of store.write, committed). A list may hold a time twice: the
        last one wins, as in an ingestion call."""
        items = list(points.items()) if isinstance(points, Mapping) else list(points)
        t = [at for at, _ in items]
        v = [value for _, value in items]
        store.write(self.session, [store.SeriesPoints.of(vid, t, v)])
        self.session.commit()

    def aggregate(
        self,
        vid: int,
        granularity: str,
        aggregation: str,
        tz: ZoneInfo,
        start: int = 0,
        end: int = 2**53,
        after: int | None = None,
        take: int = 100_000,
        threshold: float = 0.0,
        carry: int | None = None,
    ) -> tuple[list[tuple[int, float | None]], int | None]:
        """One page of buckets; `threshold` is the counter reset threshold of delta, `carry`
        the carry limit of twa in ms (None: no limit)."""
        db = store.Db(self.session)
        page = query.aggregate(
            db, vid, start, end, after, take, granularity, aggregation, tz, threshold, carry
        )
        values = [None if np.isnan(x) else float(x) for x in page.v.tolist()]
        return list(zip(page.t.tolist(), values, strict=True)), page.next_after

    def buckets(self, vid: int, granularity: str, aggregation: str, tz: ZoneInfo, **kw):
        """All buckets, no paging (keywords of `aggregate`: start, end, threshold, carry)."""
        found, next_after = self.aggregate(vid, granularity, aggregation, tz, **kw)
        assert next_after is None
        return found

    def raw(
        self, vid: int, start: int = 0, end: int = 2**53, after: int | None = None, take=100_000
    ) -> tuple[list[tuple[int, float]], int | None]:
        page = query.raw(store.Db(self.session), vid, start, end, after, take)
        return list(zip(page.t.tolist(), page.v.tolist(), strict=True)), page.next_after

    def assert_rollups_match_raw(self, vid: int) -> dict[int, float]:
        """The stored slot partials are a recomputation from the raw table (see recompute);
        returns the raw points."""
        return recompute.assert_rollups_match_raw(self.session, vid)


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with (
        fresh_database(request.param, tmp_path_factory.mktemp("timeseries")) as url,
        open_session(url) as session,
    ):
        yield Engine(session, request.param)
