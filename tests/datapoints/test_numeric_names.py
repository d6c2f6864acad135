"""itemIndex and serviceId as JSON numbers in the datapoints bodies, through the real server: the
spec writes them as numeric strings ("0", "140100"); a whole number 0 or more names the same
variable, and anything else (a float, a boolean, a negative number, an object) is a 400 naming
the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.datapoints.wire import LOAD, Account, error, ok, pairs, points

AS_TEXT = {"itemType": "Global", "itemIndex": "0", "serviceId": "140100"}
AS_NUMBERS = {"itemType": "Global", "itemIndex": 0, "serviceId": 140100}
WHOLE_DAY = {"from": "2022-05-18T00:00:00Z", "to": "2022-05-19T00:00:00Z"}
# (case, field, value): each refused
BAD = [
    ("float index", "itemIndex", 0.5),
    ("float index in exponent form", "itemIndex", 1e3),
    ("whole float index", "itemIndex", 0.0),
    ("boolean index", "itemIndex", True),
    ("negative index", "itemIndex", -1),
    ("object index", "itemIndex", {"value": 0}),
    ("float service", "serviceId", 140100.5),
    ("boolean service", "serviceId", False),
    ("negative service", "serviceId", -140100),
    ("list service", "serviceId", [140100]),
]


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


def _bad(field: str, value: Any) -> dict[str, Any]:
    return {**AS_NUMBERS, field: value}


def test_a_query_naming_the_variable_with_numbers_answers_as_with_strings(
    account: Account,
) -> None:
    device = account.device()
    data = points("2022-05-18T01:00:00Z", 4, values=[2, 7, 1, 8])
    assert account.sent(device, [{"mappingConfig": LOAD, "data": data}])["accepted"] == 4

    as_text = ok(account.query([{"deviceUuid": device, **AS_TEXT}]))
    as_numbers = ok(account.query([{"deviceUuid": device, **AS_NUMBERS}]))
    assert as_numbers == as_text
    series = as_numbers["series"][0]
    assert [v for _, v in pairs(series)] == [2, 7, 1, 8]
    # the answer keeps the spec's strings
    assert (series["itemIndex"], series["serviceId"], series["mappingConfig"]) == (
        "0",
        "140100",
        LOAD,
    )

    # aggregated too, and mixed: a number for one field, a string for the other
    mixed = {"deviceUuid": device, **AS_TEXT, "serviceId": 140100, "aggregation": "sum"}
    summed = account.read(mixed, granularity="day")
    assert [p["value"] for p in summed["data"]] == [18]


def test_ingestion_naming_the_variable_with_numbers_stores_the_points(account: Account) -> None:
    device = account.device()
    data = points("2022-05-18T03:00:00Z", 3, values=[5, 6, 7])
    answer = account.sent(device, [{**AS_NUMBERS, "data": data}])
    assert (answer["accepted"], answer["rejected"], answer["errors"]) == (3, 0, [])
    back = account.read({"deviceUuid": device, "mappingConfig": LOAD}, **WHOLE_DAY)
    assert [v for _, v in pairs(back)] == [5, 6, 7]


@pytest.mark.parametrize(("field", "value"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_query_with_another_kind_of_number_is_a_400_naming_the_field(
    account: Account, field: str, value: Any
) -> None:
    device = account.device()
    message = error(account.query([{"deviceUuid": device, **_bad(field, value)}]), 400)
    assert f"series[0].{field}" in message, message
    assert "whole number" in message, message


@pytest.mark.parametrize(("field", "value"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_ingestion_with_another_kind_of_number_is_a_400_naming_the_field(
    account: Account, field: str, value: Any
) -> None:
    device = account.device()
    data = points("2022-05-18T05:00:00Z", 2)
    good = {**AS_NUMBERS, "data": data}
    message = error(account.send(device, [good, {**_bad(field, value), "data": data}]), 400)
    assert f"series[1].{field}" in message, message
    assert "whole number" in message, message
    # nothing of the call is stored, not even the good series
    back = account.read({"deviceUuid": device, "mappingConfig": LOAD}, **WHOLE_DAY)
    assert back["data"] == []
