"""Datapoints through the SDK: the issue's short form, paging followed underneath, several
series, time zones, the pandas/CSV/Parquet/JSON outputs, and ingestion in batches."""

from __future__ import annotations

import io
import json
import math
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sodata.client import BadRequest, Client, SeriesSpec
from sodata.client.datapoints import AGGREGATIONS
from sodata.demo import ids
from tests import factories
from tests.client.conftest import OwnAccount, demo_settings, recorded_client
from tests.conftest import Server

CA = f"/api/v1/ca/{ids.SOLINK}"
LOAD = "Global|0|140100"
CURRENT = "Global|0|140108"


def api_query(api: httpx.Client, **body) -> list[dict]:
    series = body.pop("series")
    answer = api.put(f"{CA}/datapoints", json={"timezone": "UTC", **body, "series": series})
    assert answer.status_code == 200, answer.text
    return answer.json()["series"]


def test_the_issue_short_form(server: Server, api: httpx.Client) -> None:
    s = demo_settings(server)
    frm, to = "2022-05-01", "2022-07-29"
    c = Client(
        base_url=s["base_url"],
        auth_url=s["base_url"],
        realm="sodata",
        client_id=s["client_id"],
        client_secret=s["client_secret"],
        username=s["username"],
        password=s["password"],
    )
    ca = next(a for a in c.corporate_accounts.list() if a.name == "SoLink")
    dev = c.devices.find(ca, serial_number="1D15350041")
    df = c.datapoints.query(
        ca, dev, "Global|0|140100", frm, to, granularity="day", aggregation="avg"
    ).to_pandas()
    c.close()
    expected = api_query(
        api,
        **{"from": frm, "to": to, "granularity": "day"},
        series=[{"deviceUuid": str(ids.DELPHYS_GP2), "mappingConfig": LOAD, "aggregation": "avg"}],
    )[0]["data"]
    assert list(df.columns) == [LOAD] and len(df) == len(expected) == 89
    assert str(df.index.tz) == "UTC" and df.index.name == "at"
    assert df.index[0] == pd.Timestamp("2022-05-01", tz="UTC")
    assert df[LOAD].tolist() == pytest.approx([p["value"] for p in expected])


def test_pages_are_followed_underneath(server: Server, sdk: Client) -> None:
    whole = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19")
    assert whole.pages == 1 and len(whole[0]) == 720  # a point every 2 minutes
    client, recorder = recorded_client(server)
    with client:
        seen = []
        paged = client.datapoints.query(
            ids.SOLINK,
            ids.DELPHYS_GP2,
            LOAD,
            "2022-05-18",
            "2022-05-19",
            page_size=100,
            on_progress=lambda p: seen.append((p.pages, p.points, p.fraction)),
        )
    assert paged.pages == 8 and len(recorder.api()) == 8
    assert paged[0].at == whole[0].at and paged[0].values == whole[0].values
    assert [p for p, _, _ in seen] == list(range(1, 9)) and seen[-1][1:] == (720, 1.0)
    fractions = [f for _, _, f in seen]
    assert fractions == sorted(fractions) and 0 < fractions[0] < 0.2
    series = paged[0]
    assert (series.mapping_config, series.unit, series.device_time_zone) == (
        LOAD,
        "PERCENT",
        "Europe/Paris",
    )
    first_at, first_value = next(series.points())
    assert first_at.tzinfo is not None and first_at.date().isoformat() == "2022-05-18"
    assert first_value == series.values[0]


def test_several_series_of_several_devices(sdk: Client, api: httpx.Client) -> None:
    delphys = sdk.devices.get(ids.SOLINK, ids.DELPHYS_GP2)
    masterys = sdk.devices.get(ids.SOLINK, ids.MASTERYS_U2_CDS)
    result = sdk.datapoints.query(
        ids.SOLINK,
        series=[
            SeriesSpec(delphys, LOAD, "avg"),
            (masterys, LOAD, "avg"),
            (delphys, CURRENT, "max"),
        ],
        frm="2022-05-01",
        to="2022-05-08",
        granularity="day",
        timezone="Europe/Paris",
        page_size=3,
    )
    df = result.to_pandas()
    assert list(df.columns) == [
        f"{ids.DELPHYS_SERIAL} {LOAD} avg",
        f"{ids.MASTERYS_SERIAL} {LOAD} avg",
        f"{ids.DELPHYS_SERIAL} {CURRENT} max",
    ]
    assert str(df.index.tz) == "Europe/Paris" and len(df) == 7
    assert all(t.hour == 0 for t in df.index)  # local midnights
    expected = api_query(
        api,
        **{"from": "2022-05-01", "to": "2022-05-08", "granularity": "day"},
        timezone="Europe/Paris",
        series=[
            {"deviceUuid": str(ids.DELPHYS_GP2), "mappingConfig": CURRENT, "aggregation": "max"}
        ],
    )[0]["data"]
    assert df.iloc[:, 2].tolist() == [p["value"] for p in expected]
    # one device, several variables: columns are the mapping configs
    two = sdk.datapoints.query(
        ids.SOLINK, delphys, [LOAD, CURRENT], "2022-05-18", "2022-05-18T01:00"
    )
    assert [s.name for s in two] == [LOAD, CURRENT] and two[CURRENT].unit == "AMPERE"


def test_every_aggregation_as_the_api_answers_it(sdk: Client, api: httpx.Client) -> None:
    """Every aggregation the SDK accepts, as one query of one day by the hour: each column is
    the API's own answer for its aggregation; first, last, count and delta are those of the
    raw points (delta with the variable's counter reset threshold); twa lies within the
    values held in its hour (the hour's points and the one before, which may carry in)."""
    body = {"from": "2022-05-18", "to": "2022-05-19", "granularity": "hour"}
    result = sdk.datapoints.query(
        ids.SOLINK,
        series=[(ids.DELPHYS_GP2, LOAD, a) for a in AGGREGATIONS],
        frm=body["from"],
        to=body["to"],
        granularity="hour",
    )
    assert [s.name for s in result] == [f"{LOAD} {a}" for a in AGGREGATIONS]
    assert [s.aggregation for s in result] == list(AGGREGATIONS)
    expected = api_query(
        api,
        **body,
        series=[
            {"deviceUuid": str(ids.DELPHYS_GP2), "mappingConfig": LOAD, "aggregation": a}
            for a in AGGREGATIONS
        ],
    )
    for got, want in zip(result, expected, strict=True):
        assert got.aggregation == want["aggregation"]
        assert got.at == [p["at"] for p in want["data"]] and len(got) == 24, got.aggregation
        assert got.values == [p["value"] for p in want["data"]], got.aggregation

    raw = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-17T23:00", body["to"])
    points = list(zip(raw[0].at, raw[0].values, strict=True))
    threshold = sdk.variables.find(ids.SOLINK, ids.DELPHYS_GP2, LOAD).counter_reset_threshold
    hours: dict[str, list[tuple[float, float]]] = {}  # hour -> (value before, value) pairs
    for (_, before), (at, value) in zip(points, points[1:], strict=False):
        if at >= "2022-05-18":
            hours.setdefault(at[:13], []).append((before, value))
    assert len(hours) == 24 and raw[0].at[0] < "2022-05-18"  # the day's first point has one
    by = {s.aggregation: {a[:13]: v for a, v in zip(s.at, s.values, strict=True)} for s in result}
    for hour, pairs in hours.items():
        values = [v for _, v in pairs]
        assert by["first"][hour] == values[0] and by["last"][hour] == values[-1]
        assert by["count"][hour] == len(values)
        rises = [v if b - v > (threshold or 0) else v - b for b, v in pairs]
        assert by["delta"][hour] == pytest.approx(math.fsum(rises), abs=1e-9)
        held = [pairs[0][0], *values]
        assert min(held) - 1e-9 <= by["twa"][hour] <= max(held) + 1e-9


def test_from_and_to_as_datetimes_and_device_time(sdk: Client) -> None:
    text = sdk.datapoints.query(
        ids.SOLINK,
        ids.DELPHYS_GP2,
        LOAD,
        "2022-05-18T00:00",
        "2022-05-18T06:00",
        timezone="Europe/Paris",
    )
    aware = sdk.datapoints.query(
        ids.SOLINK,
        ids.DELPHYS_GP2,
        LOAD,
        datetime(2022, 5, 17, 22, tzinfo=UTC),  # Paris midnight
        datetime(2022, 5, 18, 4, tzinfo=UTC),
        timezone="Europe/Paris",
    )
    assert aware[0].at == text[0].at and text[0].at[0] >= "2022-05-17T22:00:00Z"
    local = sdk.datapoints.query(
        ids.SOLINK,
        ids.DELPHYS_GP2,
        LOAD,
        "2021-09-20T07:47:26.724Z",
        "2021-09-21T14:47:26.724Z",
        use_device_local_timezone=True,
    )
    assert local[0].at[0] >= "2021-09-20T05:47:26.724Z"  # the spec's 7.1 reading
    assert str(local.to_pandas().index.tz) == "Europe/Paris"


def test_bad_queries(sdk: Client) -> None:
    with pytest.raises(ValueError, match="aggregation: required"):
        sdk.datapoints.query(
            ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19", granularity="day"
        )
    with pytest.raises(ValueError, match="aggregation: one of avg, .*, first, last, delta, twa$"):
        sdk.datapoints.query(
            ids.SOLINK,
            ids.DELPHYS_GP2,
            LOAD,
            "2022-05-18",
            "2022-05-19",
            granularity="day",
            aggregation="median",
        )
    with pytest.raises(ValueError, match="not with granularity 'raw'"):
        sdk.datapoints.query(
            ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19", aggregation="avg"
        )
    with pytest.raises(ValueError, match="mapping config"):
        sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, "140100", "2022-05-18", "2022-05-19")
    with pytest.raises(BadRequest) as caught:
        sdk.datapoints.query(
            ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19", timezone="Mars/Olympus"
        )
    assert caught.value.status_code == 400 and "timezone" in caught.value.message


def test_csv_parquet_and_json_outputs(sdk: Client, tmp_path) -> None:
    result = sdk.datapoints.query(
        ids.SOLINK,
        series=[(ids.DELPHYS_GP2, LOAD), (ids.MASTERYS_U2_CDS, LOAD)],
        frm="2022-05-18T00:00",
        to="2022-05-18T02:00",
    )
    df = result.to_pandas()
    # raw points of two devices: one row per instant of either, blanks elsewhere
    assert len(df) == len(set(result[0].at) | set(result[1].at))
    assert df.notna().sum().tolist() == [len(result[0]), len(result[1])]
    text = result.to_csv()
    assert text.splitlines()[0] == f"at,{ids.DELPHYS_GP2} {LOAD},{ids.MASTERYS_U2_CDS} {LOAD}"
    back = pd.read_csv(io.StringIO(text), index_col="at")
    back.index = pd.to_datetime(back.index, utc=True).as_unit("ms")
    pd.testing.assert_frame_equal(back, df, check_names=False, check_freq=False)
    result.to_csv(tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text() == text

    result.to_parquet(tmp_path / "x.parquet")
    table = pq.read_table(tmp_path / "x.parquet")
    assert str(table.schema.field("at").type) == "timestamp[ms, tz=UTC]"
    meta = json.loads(table.schema.metadata[b"sodata"])
    assert [s["mappingConfig"] for s in meta["series"]] == [LOAD, LOAD]
    assert meta["query"]["granularity"] == "raw"
    from_parquet = table.to_pandas().set_index("at")
    pd.testing.assert_frame_equal(from_parquet, df, check_names=False, check_freq=False)

    body = result.to_json()
    assert body["granularity"] == "raw" and body["series"][0]["deviceUuid"] == str(ids.DELPHYS_GP2)
    assert [p["at"] for p in body["series"][0]["data"]] == result[0].at
    assert "nextAfter" not in body["series"][0]


@pytest.fixture(scope="module")
def fresh_device(api: httpx.Client, own_account: OwnAccount) -> dict:
    """A new Masterys in the tests' own account, with no data yet."""
    return factories.device(api, own_account.uuid, own_account.site)


def test_ingest_in_batches_with_rejections_indexed_as_given(
    admin_sdk: Client, fresh_device: dict, own_account: OwnAccount
) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    points = [(start + timedelta(minutes=i), i * 0.5) for i in range(250)]
    data = {
        LOAD: [*points, (start + timedelta(minutes=250), "abc")],
        "Global|0|999999": [(start, 1)],
    }
    progress = []
    result = admin_sdk.datapoints.ingest(
        own_account.uuid, fresh_device["uuid"], data, batch_size=100, on_progress=progress.append
    )
    assert (result.accepted, result.rejected) == (250, 2)
    by_series = {e.series: e for e in result.errors}
    assert by_series[0].point == 250 and "abc" in by_series[0].reason
    assert by_series[1].point is None  # the unknown variable: the whole series
    assert len(progress) == 3 and progress[-1].fraction == 1.0
    stored = admin_sdk.datapoints.query(
        own_account.uuid, fresh_device["uuid"], LOAD, "2024-01-01", "2024-01-02"
    )
    assert stored[0].values == [v for _, v in points]
    assert stored[0].at[1] == "2024-01-01T00:01:00Z"
    # sent again (as a retry would): replaced, never doubled
    again = admin_sdk.datapoints.ingest(
        own_account.uuid, fresh_device["uuid"], {LOAD: points}, batch_size=100
    )
    assert (again.accepted, again.rejected) == (250, 0)
    assert (
        len(
            admin_sdk.datapoints.query(
                own_account.uuid, fresh_device["uuid"], LOAD, "2024-01-01", "2024-01-02"
            )[0]
        )
        == 250
    )


def test_ingest_a_dataframe(admin_sdk: Client, fresh_device: dict, own_account: OwnAccount) -> None:
    index = pd.date_range("2024-02-01", periods=6, freq="h", tz="Europe/Paris")
    df = pd.DataFrame({CURRENT: [1.0, math.nan, 3.0, 4.0, 5.0, 6.0]}, index=index)
    result = admin_sdk.datapoints.ingest(own_account.uuid, fresh_device["uuid"], df)
    assert (result.accepted, result.rejected) == (5, 0)
    back = admin_sdk.datapoints.query(
        own_account.uuid,
        fresh_device["uuid"],
        CURRENT,
        "2024-02-01",
        "2024-02-02",
        timezone="Europe/Paris",
    ).to_pandas()
    assert back[CURRENT].tolist() == [1.0, 3.0, 4.0, 5.0, 6.0]
    assert back.index[0] == index[0]
