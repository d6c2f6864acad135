"""itemIndex and serviceId as JSON numbers in the variables bodies (add one, add many, the
POST /variables filter) and index in the items body, through the real server: a whole number 0
or more is taken as its digits; a float, a boolean, a negative number or an object is a 400
naming the field."""

from __future__ import annotations

import pytest

from tests import factories
from tests.variables.test_endpoints import new_device, urls

# (case, value): refused as an itemIndex, a serviceId or an item's index
NOT_WHOLE_NUMBERS = [
    ("float", 0.5),
    ("float in exponent form", 1e3),
    ("whole float", 3.0),
    ("boolean", True),
    ("negative", -1),
    ("object", {"n": 1}),
]
CASES = [c[1] for c in NOT_WHOLE_NUMBERS]
IDS = [c[0] for c in NOT_WHOLE_NUMBERS]


@pytest.fixture(scope="module")
def device(api):
    ca = factories.corporate_account(api)
    return ca, new_device(api, ca)


def test_add_one_variable_named_with_numbers(api, device):
    url, _ = urls(*device)
    r = api.post(url, json={"itemType": "Load", "itemIndex": 7, "serviceId": 140108})
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["itemIndex"], v["serviceId"], v["mappingConfig"]) == ("7", "140108", "Load|7|140108")
    # the same variable named with strings is the same one
    again = api.post(url, json={"itemType": "Load", "itemIndex": "7", "serviceId": "140108"})
    assert again.status_code == 409 and "Load|7|140108" in again.json()["message"]


def test_add_many_variables_named_with_numbers(api, device):
    url, batch = urls(*device)
    body = [
        {"itemType": "Load", "itemIndex": 8, "serviceId": 140100},
        {"itemType": "Load", "itemIndex": "8", "serviceId": 140108},
    ]
    r = api.post(batch, json=body)
    assert r.status_code == 201, r.text
    results = r.json()["results"]
    assert sorted(v["mappingConfig"] for v in results) == ["Load|8|140100", "Load|8|140108"]
    mine = {v["mappingConfig"] for v in api.get(url).json()["results"]}
    assert {"Load|8|140100", "Load|8|140108"} <= mine


def test_the_variables_filter_takes_service_ids_as_numbers(api, device):
    ca, one = device
    url = f"/api/v1/ca/{ca['uuid']}/variables"

    def found(service_ids):
        body = {"deviceUuids": [one["uuid"]], "serviceIds": service_ids}
        r = api.post(url, json=body, params={"take": 1000})
        assert r.status_code == 200, r.text
        return sorted(v["uuid"] for v in r.json()["results"])

    as_text = found(["140100", "140108"])
    assert as_text  # the Masterys profile has both
    assert found([140100, 140108]) == as_text
    assert found([140100, "140108"]) == as_text


@pytest.mark.parametrize("value", CASES, ids=IDS)
@pytest.mark.parametrize("field", ["itemIndex", "serviceId"])
def test_add_one_variable_with_another_kind_of_number_is_a_400(api, device, field, value):
    url, _ = urls(*device)
    body = {"itemType": "Load", "itemIndex": 9, "serviceId": 140100, field: value}
    r = api.post(url, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(f"{field}: "), r.text
    assert not [
        v for v in api.get(url).json()["results"] if v["mappingConfig"].startswith("Load|9")
    ]


@pytest.mark.parametrize("value", CASES, ids=IDS)
def test_the_filter_with_another_kind_of_number_is_a_400(api, device, value):
    ca, _ = device
    r = api.post(f"/api/v1/ca/{ca['uuid']}/variables", json={"serviceIds": ["140100", value]})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith("serviceIds[1]: "), r.text


def test_an_item_index_is_a_whole_number_or_its_digits(api, device):
    ca, one = device
    url = f"/api/v1/ca/{ca['uuid']}/devices/{one['uuid']}/items"
    r = api.post(url, json={"itemType": "Phase", "index": 4})
    assert r.status_code == 201 and r.json()["index"] == "4", r.text
    for value in CASES:
        r = api.post(url, json={"itemType": "Phase", "index": value})
        assert r.status_code == 400 and r.json()["message"].startswith("index: "), (value, r.text)
    assert [i["index"] for i in api.get(url).json()["results"] if i["itemType"] == "Phase"] == ["4"]
