from sodata.demo import ids

SPEC_SERVICES = {
    "140100": ("IUpsOutput_Lr", "PERCENT", "Measure"),
    "140108": ("IUpsOutput_IL3", "AMPERE", "Measure"),
    "141935": ("IUpsStatistic_OverLoadMore5s_Delta", None, "Measure"),
}


def test_services_of_the_spec_are_in_the_catalog(api):
    for service_id, (name, unit, type_) in SPEC_SERVICES.items():
        s = api.get(f"/api/v1/services/{service_id}").json()
        assert (s["name"], s["unit"], s["type"]) == (name, unit, type_)
        assert set(s["translations"]) == {"en", "fr"} and s["translations"]["fr"]["title"]
    assert (
        api.get("/api/v1/services/141935").json()["uuid"] == "be2f9626-51b4-4857-910b-294a4917446d"
    )
    titles = {
        s["translations"]["en"]["title"]
        for s in api.get("/api/v1/services", params={"take": 1000}).json()["results"]
    }
    for title in (
        "Ups ambient temperature",
        "Ups battery capacity",
        "Ups battery negative voltage",
        "Delta Ups hours on Inverter",
        "Delta Ups hours on bypass",
        "Number of unit into the Ups",
    ):
        assert title in titles
    assert api.get("/api/v1/services/999999").status_code == 404


def test_services_filter_and_page(api):
    alarms = api.get("/api/v1/services", params={"type": "Alarm", "take": 1000}).json()
    assert alarms["total"] == len(alarms["results"]) > 3
    assert {s["type"] for s in alarms["results"]} == {"Alarm"}
    page = api.get("/api/v1/services", params={"take": 5, "skip": 5}).json()
    assert len(page["results"]) == 5 and page["total"] > 40


def test_device_types_carry_their_profile(api):
    types = {t["uuid"]: t for t in api.get("/api/v1/device-types").json()["results"]}
    masterys, delphys, gateway = (
        types[str(ids.MASTERYS_TYPE)],
        types[str(ids.DELPHYS_TYPE)],
        types[str(ids.GATEWAY_TYPE)],
    )
    assert masterys["referenceId"] == "9204" and masterys["modelName"] == "Masterys"
    assert "Global|0|140100" in {e["mappingConfig"] for e in masterys["profile"]}
    assert {e["itemType"] for e in delphys["profile"]} == {"Global", "Unit"}
    assert gateway["isGateway"] and not masterys["isGateway"]
    one = api.get(f"/api/v1/device-types/{ids.DELPHYS_TYPE}").json()
    assert one == delphys
    assert api.get("/api/v1/device-types/00000000-0000-0000-0000-000000000000").status_code == 404
