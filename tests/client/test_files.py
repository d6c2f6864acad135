"""sodata.client.files: the CSV and JSON readers of `sodata ingest`, for SDK users too."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from sodata.client import Client
from sodata.client.files import PointsFileError, read_csv, read_json
from tests import factories
from tests.client.conftest import OwnAccount

LOAD = "Global|0|140100"
CURRENT = "Global|0|140108"


def test_a_wide_csv_gives_one_series_per_column_with_its_lines() -> None:
    text = f"at,{LOAD},{CURRENT}\n2024-01-01T00:00:00Z,1,2.5\n\n2024-01-01T00:01:00Z,,true\n"
    [points] = read_csv(text, default_device="1D15350041")
    assert points.device == "1D15350041"
    assert points.series == [
        {"mappingConfig": LOAD, "data": [{"at": "2024-01-01T00:00:00Z", "value": 1}]},
        {
            "mappingConfig": CURRENT,
            "data": [
                {"at": "2024-01-01T00:00:00Z", "value": 2.5},
                {"at": "2024-01-01T00:01:00Z", "value": True},
            ],
        },
    ]
    assert points.where == [["line 2"], ["line 2", "line 4"]]
    assert [points.variable(k) for k in range(2)] == [LOAD, CURRENT]


def test_a_long_csv_is_grouped_by_device_and_names_variables_by_uuid_too() -> None:
    variable = str(uuid.uuid4())
    text = (
        "at,variable,value,device\n"
        f"2024-01-01T00:00:00Z,{LOAD},1,A\n"
        f"2024-01-01T00:00:00Z,{variable},text,B\n"
        f"2024-01-01T00:01:00Z,{LOAD},,A\n"
    )
    a, b = read_csv(text)
    assert (a.device, b.device) == ("A", "B")
    assert a.series == [
        {
            "mappingConfig": LOAD,
            "data": [
                {"at": "2024-01-01T00:00:00Z", "value": 1},
                {"at": "2024-01-01T00:01:00Z", "value": None},
            ],
        }
    ]
    assert b.series == [
        {"variableUuid": variable, "data": [{"at": "2024-01-01T00:00:00Z", "value": "text"}]}
    ]
    assert b.where == [["line 3"]] and b.variable(0) == variable


def test_json_as_export_writes_it_and_the_default_device_wins() -> None:
    body = {
        "series": [
            {"mappingConfig": LOAD, "deviceUuid": "D1", "data": [{"at": "2024-01-01", "value": 1}]},
            {"itemType": "Global", "itemIndex": 0, "serviceId": "140108", "data": []},
        ]
    }
    [points] = read_json(json.dumps(body), default_device="D2")
    assert points.device == "D2"
    assert [points.variable(k) for k in range(2)] == [LOAD, CURRENT]
    assert points.where == [["series[0].data[0]"], []]
    by_file = read_json(json.dumps(body["series"][:1]))
    assert [p.device for p in by_file] == ["D1"]


@pytest.mark.parametrize(
    ("reader", "text", "message"),
    [
        (read_csv, "", "the file is empty"),
        (read_csv, "time,x\n", "the first column must be `at`"),
        (read_csv, "at,value\n", "a `value` column needs a `variable` column"),
        (read_json, "{", "JSON: "),
        (read_json, '{"rows": []}', 'expected {"series": [...]}'),
        (read_json, '[{"data": []}]', "series[0] names no variable"),
        (read_json, '[{"mappingConfig": "x"}]', "series[0] needs a variable and a `data` list"),
    ],
)
def test_a_file_that_cannot_be_read_says_what_to_fix(reader, text: str, message: str) -> None:
    with pytest.raises(PointsFileError) as raised:
        reader(text)
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_points_read_from_a_file_go_through_the_sdk(
    admin_sdk: Client, api: httpx.Client, own_account: OwnAccount
) -> None:
    device = factories.device(api, own_account.uuid, own_account.site)
    text = f"at,{LOAD}\n2024-03-01T00:00:00Z,1.5\n2024-03-01T00:01:00Z,2.5\n"
    [points] = read_csv(text, default_device=device["uuid"])
    result = admin_sdk.datapoints.ingest(own_account.uuid, points.device, points.series)
    assert (result.accepted, result.rejected) == (2, 0)
    stored = admin_sdk.datapoints.query(
        own_account.uuid, device["uuid"], LOAD, "2024-03-01", "2024-03-02"
    )
    assert stored[0].values == [1.5, 2.5]
