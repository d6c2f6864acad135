import uuid

from sodata.demo import ids
from tests import factories
from tests.spec_keys import SPEC_VARIABLE_KEYS, VARIABLE_EXTRAS

# the keys of the spec's example body (5.7.3)


def new_device(api, ca, type_uuid=ids.MASTERYS_TYPE, **fields):
    """A device of `type_uuid` in a new site of `ca`."""
    site = factories.site(api, ca, factories.customer(api, ca))
    return factories.device(api, ca, site, type_uuid, **fields)


def urls(ca, device):
    one = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}/variables"
    batch = f"/api/v1/ca/{ca['uuid']}/batch-devices/{device['uuid']}/variables"
    return one, batch


def by_mapping(variables):
    return {v["mappingConfig"]: v for v in variables}


def profile(api, type_uuid):
    return api.get(f"/api/v1/device-types/{type_uuid}").json()["profile"]


def test_device_variables_follow_the_profile_in_the_spec_shape(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca, technicalName="MASTERIS_U2_CDS")
    url, _ = urls(ca, device)
    answer = api.get(url).json()
    assert set(answer) == {"results", "total"}
    variables = answer["results"]
    assert answer["total"] == len(variables) == len(profile(api, ids.MASTERYS_TYPE))
    assert set(by_mapping(variables)) == {
        e["mappingConfig"] for e in profile(api, ids.MASTERYS_TYPE)
    }
    for v in variables:
        assert set(v) == SPEC_VARIABLE_KEYS | VARIABLE_EXTRAS
    keys = [(v["itemType"], int(v["itemIndex"]), v["serviceId"]) for v in variables]
    assert keys == sorted(keys)
    v = by_mapping(variables)["Global|0|141935"]
    assert v["serviceUuid"] == "be2f9626-51b4-4857-910b-294a4917446d"
    assert v["serviceName"] == "IUpsStatistic_OverLoadMore5s_Delta"
    assert (v["itemType"], v["itemIndex"], v["serviceId"]) == ("Global", "0", "141935")
    assert v["streamRef"] == "Global 0 141935" and isinstance(v["datahubId"], int)
    assert v["reason"] == {"fromTemplate": True, "reasons": [{"value": "IS_DEFAULT"}]}
    assert (v["source"], v["pollingTime"], v["sendOnUpdate"], v["isComputed"]) == (
        "PROFILE",
        3600,
        False,
        True,
    )
    assert v["label"] == "MASTERIS_U2_CDS" and v["tags"] == [] and v["active"] is True
    assert v["deviceUuid"] == device["uuid"] and v["deviceSerialNumber"] == device["serialNumber"]
    assert v["deviceTypeUuid"] == str(ids.MASTERYS_TYPE)
    assert v["serviceTranslations"]["en"]["title"] == "Ups overload more than 5s Delta"
    assert by_mapping(variables)["Global|0|140100"]["unit"] == "PERCENT"  # the service's unit
    assert api.get(f"{url}/{v['uuid']}").json() == v


def test_device_variables_filters(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca, ids.DELPHYS_TYPE)
    url, _ = urls(ca, device)
    everything = api.get(url).json()["results"]
    alarms = api.get(url, params={"serviceType": "Alarm"}).json()
    assert alarms["total"] == sum(v["serviceType"] == "Alarm" for v in everything) > 0
    assert {v["serviceType"] for v in alarms["results"]} == {"Alarm"}
    unit = api.get(url, params={"itemType": "Unit"}).json()
    assert unit["total"] == sum(e["itemType"] == "Unit" for e in profile(api, ids.DELPHYS_TYPE)) > 0
    assert {v["itemType"] for v in unit["results"]} == {"Unit"}
    both = api.get(url, params={"itemType": "Unit", "serviceType": "Measure"}).json()
    assert 0 < both["total"] <= unit["total"]
    r = api.get(url, params={"serviceType": "Sensor"})
    assert (
        r.status_code == 400
        and "serviceType" in r.json()["message"]
        and "Measure" in r.json()["message"]
    )
    assert api.get(url, params={"itemType": "a|b"}).status_code == 400


def test_add_one_variable(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url, _ = urls(ca, device)
    before = api.get(url).json()["total"]
    r = api.post(
        url, json={"itemType": "Load", "itemIndex": "3", "serviceId": "140100", "source": "PROFILE"}
    )
    assert r.status_code == 201, r.text
    v = r.json()
    assert set(v) == SPEC_VARIABLE_KEYS | VARIABLE_EXTRAS
    assert (v["itemType"], v["itemIndex"], v["serviceId"], v["mappingConfig"]) == (
        "Load",
        "3",
        "140100",
        "Load|3|140100",
    )
    assert v["source"] == "USER" and v["reason"] == {
        "fromTemplate": False,
        "reasons": [{"value": "USER_DEFINED"}],
    }
    assert (
        v["unit"] == "PERCENT"
        and v["pollingTime"] == 60
        and v["active"] is True
        and v["tags"] == []
    )
    assert api.get(url).json()["total"] == before + 1
    items = api.get(f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}/items").json()["results"]
    load = [i for i in items if i["itemType"] == "Load"]
    assert len(load) == 1 and load[0]["index"] == "3" and load[0]["uuid"] == v["itemUuid"]
    assert load[0]["variablesQuantity"] == 1

    # the same item again, index as a number, every setting given
    body = {
        "itemType": "Load",
        "itemIndex": 3,
        "serviceId": "140108",
        "label": "L3 current",
        "coef": 0.5,
        "offset": 1,
        "baseCoef": 2,
        "baseOffset": -1,
        "unit": "KILOWATT",
        "pollingTime": 300,
        "sendOnUpdate": True,
        "tags": ["a", "b"],
        "active": False,
        "iotGroup": "g1",
        "timestampId": "ts",
        "configurationComputed": {"f": 1},
        "overrideFields": {"x": "y"},
    }
    w = api.post(url, json=body).json()
    assert w["itemUuid"] == v["itemUuid"]
    assert (w["label"], w["coef"], w["offset"], w["baseCoef"], w["baseOffset"]) == (
        "L3 current",
        0.5,
        1,
        2,
        -1,
    )
    assert (w["unit"], w["pollingTime"], w["sendOnUpdate"], w["tags"], w["active"]) == (
        "KILOWATT",
        300,
        True,
        ["a", "b"],
        False,
    )
    assert (w["iotGroup"], w["timestampId"], w["configurationComputed"], w["overrideFields"]) == (
        "g1",
        "ts",
        {"f": 1},
        {"x": "y"},
    )
    assert api.get(f"{url}/{w['uuid']}").json() == w

    r = api.post(url, json={"itemType": "Load", "itemIndex": 3, "serviceId": "140100"})
    assert r.status_code == 409 and "Load|3|140100" in r.json()["message"]
    r = api.post(
        url, json={"itemType": "Global", "itemIndex": "0", "serviceId": "140100"}
    )  # from the profile
    assert r.status_code == 409 and "Global|0|140100" in r.json()["message"]
    assert api.get(url).json()["total"] == before + 2


def test_add_one_variable_bad_input(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url, _ = urls(ca, device)
    good = {"itemType": "Load", "itemIndex": "0", "serviceId": "140100"}
    cases = [
        ({**good, "serviceId": "999999"}, "serviceId: unknown service 999999"),
        ({"itemIndex": "0", "serviceId": "140100"}, "itemType: is required"),
        ({**good, "itemIndex": "x"}, "itemIndex"),
        ({**good, "itemIndex": "-1"}, "itemIndex"),
        ({**good, "itemIndex": True}, "itemIndex"),
        ({**good, "itemIndex": "70000"}, "itemIndex"),
        ({**good, "itemType": "Glo|bal"}, "itemType"),
        ({**good, "unit": "PARSEC"}, "unknown unit 'PARSEC'"),
        ({**good, "pollingTime": 0}, "pollingTime"),
        ({**good, "label": "x" * 256}, "label"),
        ({**good, "label": "a\u0000b"}, "NUL"),
        ({**good, "colour": "red"}, "colour: is not a known field"),
    ]
    for body, expected in cases:
        r = api.post(url, json=body)
        assert r.status_code == 400 and expected in r.json()["message"], (body, r.text)
    assert (
        api.post(url, content=b"{", headers={"content-type": "application/json"}).status_code == 400
    )
    assert not [v for v in api.get(url).json()["results"] if v["itemType"] == "Load"]


def test_update_one_variable(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url, _ = urls(ca, device)
    v = by_mapping(api.get(url).json()["results"])["Global|0|140100"]
    r = api.put(
        f"{url}/{v['uuid']}",
        json={
            "label": "load",
            "coef": 2.5,
            "tags": ["x"],
            "unit": "AMPERE",
            "itemType": "Unit",
            "serviceId": "140108",
        },
    )
    assert r.status_code == 200, r.text
    u = r.json()
    assert (u["label"], u["coef"], u["tags"], u["unit"]) == ("load", 2.5, ["x"], "AMPERE")
    assert (
        u["mappingConfig"] == "Global|0|140100" and u["source"] == "PROFILE"
    )  # identity is read-only
    assert u["pollingTime"] == v["pollingTime"]  # partial update
    assert api.get(f"{url}/{v['uuid']}").json() == u
    # a client may send back what it read
    back = api.put(f"{url}/{v['uuid']}", json={**u, "label": None, "unit": None})
    assert (
        back.status_code == 200
        and back.json()["label"] is None
        and back.json()["unit"] == "PERCENT"
    )
    r = api.put(f"{url}/{v['uuid']}", json={"pollingTime": None})
    assert r.status_code == 400 and r.json()["message"].startswith("pollingTime: may not be null")
    assert api.put(f"{url}/{v['uuid']}", json={"coef": "much"}).status_code == 400


def test_add_many_variables_all_or_nothing(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url, batch = urls(ca, device)
    before = api.get(url).json()["total"]
    good = [
        {"itemType": "Load", "itemIndex": "0", "serviceId": "140100"},
        {"itemType": "Load", "itemIndex": "1", "serviceId": "140100", "label": "second"},
        {"itemType": "Load", "itemIndex": "1", "serviceId": "140108"},
    ]
    cases = [
        (
            good[:2] + [{**good[2], "serviceId": "999999"}],
            400,
            "[2].serviceId: unknown service 999999",
        ),
        ([good[0], {"itemIndex": "1", "serviceId": "140100"}], 400, "[1].itemType: is required"),
        ([good[0], {**good[1], "pollingTime": None}], 400, "[1].pollingTime: may not be null"),
        (good + [good[1]], 400, "[3]: variable Load|1|140100 is also element [1]"),
        (good + [{"itemType": "Global", "itemIndex": "0", "serviceId": "140100"}], 409, "[3]: "),
        ({"itemType": "Load"}, 400, "body: "),
        ([], 400, "body: "),
    ]
    for body, status, expected in cases:
        r = api.post(batch, json=body)
        assert r.status_code == status and r.json()["message"].startswith(expected), (body, r.text)
    assert api.get(url).json()["total"] == before
    assert not [
        i
        for i in api.get(f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}/items").json()[
            "results"
        ]
        if i["itemType"] == "Load"
    ]

    r = api.post(batch, json=good)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["total"] == 3 and [v["mappingConfig"] for v in created["results"]] == [
        "Load|0|140100",
        "Load|1|140100",
        "Load|1|140108",
    ]
    assert created["results"][1]["label"] == "second" and {
        v["source"] for v in created["results"]
    } == {"USER"}
    assert created["results"][1]["itemUuid"] == created["results"][2]["itemUuid"]
    assert api.get(url).json()["total"] == before + 3
    r = api.post(batch, json=[good[0]])
    assert (
        r.status_code == 409
        and "[0]: " in r.json()["message"]
        and "Load|0|140100" in r.json()["message"]
    )


def test_update_many_variables_all_or_nothing(api):
    ca = factories.corporate_account(api)
    device, other = new_device(api, ca), new_device(api, ca)
    url, batch = urls(ca, device)
    variables = by_mapping(api.get(url).json()["results"])
    a, b = variables["Global|0|140100"], variables["Global|0|140108"]
    foreign = by_mapping(api.get(urls(ca, other)[0]).json()["results"])["Global|0|140100"]
    cases = [
        (
            [{"uuid": a["uuid"], "label": "A"}, {"uuid": str(uuid.uuid4()), "label": "?"}],
            "[1].uuid: ",
        ),
        (
            [{"uuid": a["uuid"], "label": "A"}, {"uuid": foreign["uuid"], "label": "?"}],
            "[1].uuid: ",
        ),
        (
            [{"uuid": a["uuid"], "label": "A"}, {"uuid": b["uuid"], "pollingTime": -5}],
            "[1].pollingTime",
        ),
        ([{"uuid": a["uuid"], "label": "A"}, {"uuid": a["uuid"], "label": "B"}], "[1].uuid: "),
        ([{"label": "A"}], "[0].uuid: is required"),
    ]
    for body, expected in cases:
        r = api.put(batch, json=body)
        assert r.status_code == 400 and r.json()["message"].startswith(expected), (body, r.text)
    assert api.get(f"{url}/{a['uuid']}").json()["label"] == a["label"]
    r = api.put(
        batch, json=[{"uuid": b["uuid"], "active": False}, {**a, "coef": 3, "itemType": "Unit"}]
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert [v["uuid"] for v in updated["results"]] == [b["uuid"], a["uuid"]] and updated[
        "total"
    ] == 2
    assert api.get(f"{url}/{b['uuid']}").json()["active"] is False
    assert api.get(f"{url}/{a['uuid']}").json()["coef"] == 3
    assert api.get(f"{url}/{a['uuid']}").json()["mappingConfig"] == "Global|0|140100"


def test_delete_profile_variable_and_repair(api):
    ca = factories.corporate_account(api)
    device = new_device(api, ca)
    url, _ = urls(ca, device)
    device_url = f"/api/v1/ca/{ca['uuid']}/devices/{device['uuid']}"
    assert api.get(device_url).json()["profileIsUpToDate"] is True
    user = api.post(url, json={"itemType": "Load", "itemIndex": "0", "serviceId": "140100"}).json()
    assert api.delete(f"{url}/{user['uuid']}").status_code == 204
    assert api.get(f"{url}/{user['uuid']}").status_code == 404
    assert (
        api.get(device_url).json()["profileIsUpToDate"] is True
    )  # a user variable is not in the profile

    overload = by_mapping(api.get(url).json()["results"])["Global|0|141935"]
    assert api.delete(f"{url}/{overload['uuid']}").status_code == 204
    assert api.get(f"{url}/{overload['uuid']}").status_code == 404
    assert "Global|0|141935" not in by_mapping(api.get(url).json()["results"])
    assert api.get(device_url).json()["profileIsUpToDate"] is False
    assert api.put(f"{device_url}/repair").status_code == 200
    assert api.get(device_url).json()["profileIsUpToDate"] is True
    restored = by_mapping(api.get(url).json()["results"])["Global|0|141935"]
    assert (
        restored["source"] == "PROFILE"
        and restored["isComputed"] is True
        and restored["uuid"] != overload["uuid"]
    )


def test_pagination_and_filters(api):
    ca, other_ca = factories.corporate_account(api), factories.corporate_account(api)
    masterys, delphys = new_device(api, ca), new_device(api, ca, ids.DELPHYS_TYPE)
    new_device(api, other_ca)
    n_masterys, n_delphys = (
        len(profile(api, ids.MASTERYS_TYPE)),
        len(profile(api, ids.DELPHYS_TYPE)),
    )
    url = f"/api/v1/ca/{ca['uuid']}/variables"

    everything = api.post(url, params={"take": 1000})
    assert everything.status_code == 200
    assert set(everything.json()) == {"total", "results", "take"}
    assert everything.json()["total"] == n_masterys + n_delphys == len(everything.json()["results"])
    assert set(everything.json()["results"][0]) == SPEC_VARIABLE_KEYS | VARIABLE_EXTRAS
    assert api.post(url, json={}).json()["total"] == n_masterys + n_delphys

    first = api.post(url, params={"take": 10}).json()
    second = api.post(url, params={"take": 10, "skip": 10}).json()
    assert first["take"] == 10 and len(first["results"]) == len(second["results"]) == 10
    assert not {v["uuid"] for v in first["results"]} & {v["uuid"] for v in second["results"]}
    assert api.post(url, params={"take": 0}).json() == {
        "total": n_masterys + n_delphys,
        "results": [],
        "take": 0,
    }

    def total(body, **params):
        r = api.post(url, json=body, params={"take": 1000, **params})
        assert r.status_code == 200, r.text
        return r.json()

    only = total({"deviceUuids": [delphys["uuid"]]})
    assert only["total"] == n_delphys and {v["deviceUuid"] for v in only["results"]} == {
        delphys["uuid"]
    }
    assert (
        total({"deviceUuids": [delphys["uuid"], masterys["uuid"]]})["total"]
        == n_masterys + n_delphys
    )
    assert total({"itemTypes": ["Unit"]})["total"] == sum(
        e["itemType"] == "Unit" for e in profile(api, ids.DELPHYS_TYPE)
    )
    load_rate = total({"serviceIds": ["140100"]})
    assert load_rate["total"] == 3 and {v["serviceId"] for v in load_rate["results"]} == {"140100"}
    assert total({"serviceIds": ["140100", "140108"]})["total"] == 6
    alarms = total({"serviceTypes": ["Alarm"]})
    assert alarms["total"] > 0 and {v["serviceType"] for v in alarms["results"]} == {"Alarm"}
    mapped = total({"mappingConfigs": ["Global|0|140100", "Unit|0|140100"]})
    assert sorted(v["mappingConfig"] for v in mapped["results"]) == [
        "Global|0|140100",
        "Global|0|140100",
        "Unit|0|140100",
    ]
    both = total(
        {"mappingConfigs": ["Global|0|140100", "Unit|0|140100"], "deviceUuids": [masterys["uuid"]]}
    )
    assert [(v["deviceUuid"], v["mappingConfig"]) for v in both["results"]] == [
        (masterys["uuid"], "Global|0|140100")
    ]
    assert (
        total(
            {
                "serviceIds": ["140100"],
                "itemTypes": ["Unit"],
                "deviceUuids": [],
                "mappingConfigs": [],
            }
        )["total"]
        == 1
    )

    by_service = total({"deviceUuids": [masterys["uuid"]]}, sortBy="-serviceId")["results"]
    assert [v["serviceId"] for v in by_service] == sorted(
        (v["serviceId"] for v in by_service), reverse=True
    )

    cases = [
        (
            {"mappingConfigs": ["Global|0|140100", "Global-0-140100"]},
            {},
            "mappingConfigs[1]: 'Global-0-140100'",
        ),
        ({"mappingConfigs": ["Global|zero|140100"]}, {}, "Item|Index|Service"),
        ({"deviceUuids": [str(uuid.uuid4())]}, {}, "deviceUuids[0]: no device"),
        ({"serviceTypes": ["Sensor"]}, {}, "serviceTypes"),
        ({"deviceUuid": masterys["uuid"]}, {}, "deviceUuid: is not a known field"),
        ({}, {"sortBy": "colour"}, "sortBy: unknown field 'colour'"),
        ({}, {"take": 5000}, "take"),
        ({"deviceUuids": [masterys["uuid"]] * 1001}, {}, "deviceUuids"),
    ]
    for body, params, expected in cases:
        r = api.post(url, json=body, params=params)
        assert r.status_code == 400 and expected in r.json()["message"], (body, params, r.text)
    # a device of another account names nothing there
    r = api.post(
        f"/api/v1/ca/{other_ca['uuid']}/variables", json={"deviceUuids": [masterys["uuid"]]}
    )
    assert r.status_code == 400 and "deviceUuids[0]" in r.json()["message"]
    assert api.post(f"/api/v1/ca/{other_ca['uuid']}/variables").json()["total"] == n_masterys


def test_not_found(api):
    ca, other_ca = factories.corporate_account(api), factories.corporate_account(api)
    device, sibling = new_device(api, ca), new_device(api, ca)
    foreign = new_device(api, other_ca)
    url, batch = urls(ca, device)
    sibling_variable = api.get(urls(ca, sibling)[0]).json()["results"][0]
    for variable_uuid in (uuid.uuid4(), sibling_variable["uuid"]):
        assert api.get(f"{url}/{variable_uuid}").status_code == 404
        assert api.put(f"{url}/{variable_uuid}", json={"label": "x"}).status_code == 404
        assert api.delete(f"{url}/{variable_uuid}").status_code == 404
    assert (
        api.get(f"{urls(ca, sibling)[0]}/{sibling_variable['uuid']}").json()["label"]
        == sibling_variable["label"]
    )

    body = {"itemType": "Global", "itemIndex": "0", "serviceId": "140100"}
    for missing in (foreign, {"uuid": str(uuid.uuid4())}):
        foreign_url, foreign_batch = urls(ca, missing)
        r = api.get(foreign_url)
        assert r.status_code == 404 and r.json()["message"] == f"Device {missing['uuid']} not found"
        assert api.post(foreign_url, json={**body, "itemType": "Load"}).status_code == 404
        assert api.post(foreign_batch, json=[{**body, "itemType": "Load"}]).status_code == 404
        assert (
            api.put(
                foreign_batch, json=[{"uuid": sibling_variable["uuid"], "label": "x"}]
            ).status_code
            == 404
        )
    foreign_variable = api.get(urls(other_ca, foreign)[0]).json()["results"][0]
    assert api.get(f"{urls(ca, foreign)[0]}/{foreign_variable['uuid']}").status_code == 404
    assert api.get(f"{urls(other_ca, foreign)[0]}/{foreign_variable['uuid']}").status_code == 200
    r = api.get(f"{url}/not-a-uuid")
    assert r.status_code == 400 and "variableUuid" in r.json()["message"]
    assert api.get(f"/api/v1/ca/{ca['uuid']}/devices/not-a-uuid/variables").status_code == 400
