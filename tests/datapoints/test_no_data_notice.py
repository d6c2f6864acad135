"""PUT /datapoints through the real server: a series whose range holds no point adds a
Sodata-Notice header (the span of the data it has, or that it has none); the body is the
spec's, unchanged; a series with points adds none."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.datapoints.wire import LOAD, SPEC_ANSWER_KEYS, Account, ok, points

NOTICE = "Sodata-Notice"


@pytest.fixture(scope="module")
def account(api: httpx.Client) -> Iterator[Account]:
    account = Account.create(api)
    yield account
    account.close()


@pytest.fixture(scope="module")
def device(account: Account) -> str:
    """A device whose load has 3 points on 2022-05-18 from 10:00 UTC, one a minute."""
    device = account.device()
    sent = account.sent(device, [{"mappingConfig": LOAD, "data": points("2022-05-18T10:00:00", 3)}])
    assert sent["accepted"] == 3, sent
    return device


def test_an_empty_range_names_the_span_of_the_data(account: Account, device: str) -> None:
    response = account.query(
        [{"deviceUuid": device, "mappingConfig": LOAD}],
        **{"from": "2021-01-01T00:00:00Z", "to": "2021-01-02T00:00:00Z"},
    )
    answer = ok(response)
    assert set(answer) == SPEC_ANSWER_KEYS and answer["series"][0]["data"] == []
    assert response.headers.get_list(NOTICE) == [
        f"series[0] ({LOAD} of device {device}): no data from 2021-01-01T00:00:00.000Z to "
        "2021-01-02T00:00:00.000Z; its data spans 2022-05-18T10:00:00.000Z to "
        "2022-05-18T10:02:00.000Z"
    ]


def test_a_range_with_data_has_no_notice(account: Account, device: str) -> None:
    response = account.query([{"deviceUuid": device, "mappingConfig": LOAD}])
    assert len(ok(response)["series"][0]["data"]) == 3
    assert NOTICE not in response.headers


def test_a_variable_without_data_says_so(account: Account, device: str) -> None:
    empty = account.device()
    response = account.query(
        [
            {"deviceUuid": device, "mappingConfig": LOAD, "aggregation": "max"},  # has points
            {"deviceUuid": empty, "mappingConfig": LOAD, "aggregation": "avg"},
        ],
        granularity="hour",
    )
    assert [len(s["data"]) for s in ok(response)["series"]] == [1, 0]
    (notice,) = response.headers.get_list(NOTICE)
    assert notice.startswith(f"series[1] ({LOAD} of device {empty}): no data from ")
    assert notice.endswith("; the variable has no data at all")


def test_a_later_page_has_no_notice(account: Account, device: str) -> None:
    """A page after a cursor may be empty without the range being so: no notice."""
    series = {"deviceUuid": device, "mappingConfig": LOAD, "after": "2022-05-18T23:00:00Z"}
    response = account.query([series])
    assert ok(response)["series"][0]["data"] == []
    assert NOTICE not in response.headers
