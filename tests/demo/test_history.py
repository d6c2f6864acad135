"""The demo history: deterministic, UPS-like, and where the spec's examples look; with the
energy meters' (tests/demo/test_meters.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from sodata.catalog.service import sync_catalog
from sodata.demo import history, meters
from sodata.demo.seed import seed
from sodata.models import Datapoint, Device, LastValue
from sodata.timeseries.calendar import DAY_MS, to_ms
from tests.conftest import fresh_database, open_session

NOW = to_ms(datetime(2026, 3, 29, 12, 0, tzinfo=UTC))  # a DST day in Europe/Paris


def _points(
    tmp_path: Path, name: str, now_ms: int, days: int
) -> tuple[dict[tuple[int, int], float], set[int]]:
    """The points of a seed but the replaced meter's index (counted from its replacement, some
    days before `now_ms`), and the ids of the meters' other variables."""
    directory = tmp_path / name
    directory.mkdir()
    with fresh_database("sqlite", directory) as url, open_session(url) as session:
        sync_catalog(session)
        seed(session)
        written = history.seed_history(session, days=days, now_ms=now_ms)
        session.commit()
        rows = session.execute(select(Datapoint.variable_id, Datapoint.at, Datapoint.value)).all()
        assert written == len(rows)
        # 7 UPS variables, and the energy index and power of each meter
        last_values = session.scalar(select(func.count()).select_from(LastValue))
        assert last_values == 7 + 2 * len(meters.METERS)
        meter_variables = set()
        for meter in meters.METERS:
            device = session.scalar(select(Device).where(Device.uuid == meter.uuid))
            found = meters.variables(session, device.id)
            meter_variables |= {v.id for v in found.values()}
            if meter.replaced:
                replaced_index = found[meters.ENERGY].id
        points = {(vid, at): value for vid, at, value in rows if vid != replaced_index}
        return points, meter_variables - {replaced_index}


def test_two_seeds_agree_where_they_overlap(tmp_path: Path) -> None:
    first, meter_variables = _points(tmp_path, "first", NOW, days=3)
    second, _ = _points(tmp_path, "second", NOW + DAY_MS, days=3)
    common = first.keys() & second.keys()
    assert len(common) > 1000
    assert all(first[k] == second[k] for k in common)
    assert max(at for _, at in first) < NOW <= max(at for _, at in second)
    assert {vid for vid, _ in common} >= meter_variables  # the meters' points agree too


def test_the_spec_windows_and_a_daily_load_curve() -> None:
    curve = history.HISTORY[0][1][0]  # Delphys GP2, Global|0|140100 every 2 minutes
    start, end = history.SPEC_WINDOWS[0]
    t, v = history.points(curve, 7, start, end, "Europe/Paris")
    assert start <= t[0] < start + 2 * 60_000 and t[-1] < end
    assert np.all(np.diff(t) > 0) and np.all(t % 1000 == 0)  # whole seconds, as in the spec
    monday = to_ms(datetime(2021, 9, 20, tzinfo=UTC))
    hours = (t - monday) / 3_600_000
    night = v[(hours >= 0) & (hours < 4)]
    afternoon = v[(hours >= 12) & (hours < 16)]
    assert afternoon.mean() > night.mean() + 2
