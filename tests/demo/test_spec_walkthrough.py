"""The demo server answers the spec's walkthrough (5.3 to 5.7, 7.1) with the spec's shapes.

The key sets below are copied from the spec's example response bodies, in the spec's order.
These tests only read demo objects; they never change them.
"""

from __future__ import annotations

import httpx

from sodata.demo import ids
from tests.spec_keys import (
    SPEC_ADDRESS_KEYS,
    SPEC_CA_KEYS,
    SPEC_CONTACT_KEYS,
    SPEC_CUSTOMER_KEYS,
    SPEC_DEVICE_KEYS,
    SPEC_PAGE_KEYS,
    SPEC_SITE_KEYS,
    SPEC_USER_LINK_KEYS,
    SPEC_VARIABLE_KEYS,
    SPEC_VARIABLES_PAGE_KEYS,
    USER_LINK_EXTRAS,
    VARIABLE_EXTRAS,
)

CA = f"/api/v1/ca/{ids.SOLINK}"

# 3.1: SoLink's data access groups and how many customers each holds
SPEC_DAGS = {
    "SoLink AU": ("AU", 0),
    "SoLink BE": ("BE", 0),
    "SoLink CH": ("CH", 0),
    "SoLink DE": ("DE", 0),
    "SoLink EUROPE": (None, 0),
    "SoLink FR": ("FR", 4),
    "SoLink GB": ("GB", 1),
}


def assert_keys(obj: dict, spec: set[str], extras: set[str] = frozenset(), what: str = "") -> None:
    keys = set(obj)
    missing, unexpected = sorted(spec - keys), sorted(keys - spec - extras)
    assert not (missing or unexpected), f"{what}: missing {missing}, not in the spec {unexpected}"


def ok(response: httpx.Response) -> dict:
    status = response.status_code
    assert status == 200, f"{response.request.url}: {status} {response.text}"
    return response.json()


def test_corporate_accounts_as_in_5_3_3(api: httpx.Client) -> None:
    page = ok(api.get("/api/v1/ca", params={"take": 50, "skip": 0}))
    assert_keys(page, SPEC_PAGE_KEYS, what="page")
    by_name = {ca["name"]: ca for ca in page["results"]}
    assert {"Energy Storage", "SOCOMEC", "SoLink"} <= set(by_name)
    for ca in page["results"]:
        assert_keys(ca, SPEC_CA_KEYS, what=ca["name"])
        for link in ca["userLinks"]:
            assert_keys(link, SPEC_USER_LINK_KEYS, USER_LINK_EXTRAS, what="userLinks[]")
    solink = by_name["SoLink"]
    assert solink["uuid"] == str(ids.SOLINK) and solink["iconUuid"] == str(ids.SOLINK_ICON)
    assert solink["defaultCustomerUuid"] is None
    assert solink["activationType"] == "MAINTENANCE"
    assert solink["movingAuthorization"] == "CONSERVATION"
    assert solink["isMultiCustomerAccount"] is True and solink["canPublish"] is False
    assert solink["autoTemplateSynchro"] is True
    spec_link = next(u for u in solink["userLinks"] if u["uuid"] == str(ids.SOLINK_USER_LINK))
    # on a fresh database the demo gets the spec's example ids
    assert (spec_link["corporateAccountId"], spec_link["userId"]) == (3, 4)
    assert (spec_link["status"], spec_link["role"]) == ("VALIDATED", "admin")
    assert sorted(u["role"] for u in solink["userLinks"]) == ["admin", "admin", "viewer"]


def test_customers_as_in_5_4_3(api: httpx.Client) -> None:
    params = {"take": 1000, "skip": 0, "detailsLevel": "ALL"}
    page = ok(api.get(f"{CA}/customers", params=params))
    assert_keys(page, SPEC_PAGE_KEYS, what="page")
    for customer in page["results"]:
        assert_keys(customer, SPEC_CUSTOMER_KEYS, what=customer["name"])
    by_name = {c["name"]: c for c in page["results"]}
    assert {"AU_Socomec", "BE_Socomec", "CH_Socomec", "DE_Socomec", "GB_Socomec"} <= set(by_name)
    assert len([name for name in by_name if name.startswith("FR_")]) == 4
    fr = by_name["FR_Socomec"]
    assert fr["uuid"] == str(ids.FR_SOCOMEC)
    assert (fr["technicalName"], fr["description"]) == ("Socomec", "All Socomec UPS in production")
    assert (fr["movingAuthorization"], fr["corporateAccountUuid"]) == ("INHERITED", str(ids.SOLINK))
    assert fr["sitesQuantity"] == 3
    assert_keys(fr["companyAddress"], SPEC_ADDRESS_KEYS, what="companyAddress")
    assert_keys(fr["contact"], SPEC_CONTACT_KEYS, what="contact")
    address = fr["companyAddress"]
    assert address["uuid"] == str(ids.FR_SOCOMEC_ADDRESS)
    assert (address["street"], address["postCode"]) == ("1 Rue de Westhouse", "67235")
    assert (address["city"], address["country"]) == ("Benfeld", "France")
    assert fr["contact"]["uuid"] == str(ids.FR_SOCOMEC_CONTACT)
    assert fr["contact"]["useParent"] is False
    emails = [fr["emailTo"], fr["emailCc"], fr["contact"]["email"]]
    assert all(email.endswith("@example.com") for email in emails), emails


def test_sites_of_fr_socomec_as_in_5_5_3(api: httpx.Client) -> None:
    params = {"take": 50, "skip": 0, "customerUuid": str(ids.FR_SOCOMEC)}
    page = ok(api.get(f"{CA}/sites", params=params))
    assert_keys(page, SPEC_PAGE_KEYS, what="page")
    assert page["total"] == 3
    for site in page["results"]:
        assert_keys(site, SPEC_SITE_KEYS, what=site["name"])
        assert site["customerUuid"] == str(ids.FR_SOCOMEC)
    site = next(s for s in page["results"] if s["uuid"] == str(ids.BENFELD_CDS))
    assert (site["name"], site["technicalName"]) == ("(FR) Benfeld CDS", "FR_Benfeld_CDS")
    assert site["activationKey"] == str(ids.BENFELD_CDS_ACTIVATION_KEY)
    assert (site["timeZone"], site["movingAuthorization"]) == ("Europe/Paris", "INHERITED")
    assert site["autoGatewaysRegistration"] is True and site["autoProductsRegistration"] is True
    assert isinstance(site["configurationOptions"], dict) and site["configurationOptions"]
    assert site["devicesQuantity"] == 2
    assert "Benfeld - U3" in {s["name"] for s in page["results"]}


def test_sites_of_solink_cover_real_time_zones(api: httpx.Client) -> None:
    sites = ok(api.get(f"{CA}/sites", params={"take": 1000}))["results"]
    assert {s["timeZone"] for s in sites} >= {
        "Europe/Paris",
        "Europe/London",
        "Europe/Berlin",
        "Australia/Sydney",
        "Europe/Brussels",
        "Europe/Zurich",
        "Asia/Kolkata",
    }


MASTERYS_AS_IN_SPEC = {
    "name": "Masterys U2 CDS",
    "technicalName": "MASTERIS_U2_CDS",
    "serialNumber": ids.MASTERYS_SERIAL,
    "mappingMode": "SERVICE_ID",
    "acquisitionId": None,
    "description": None,
    "custom": {
        "socomec": {
            "deviceID": "P486271001",
            "nomPowerKVA": "20000",
            "nomPowerKW": "0",
            "compatibilityVersion": "1",
        }
    },
    "frequencyStatus": 60,
    "frequencyStream": 60,
    "status": "ACCEPTED",
    "creationType": "CREATED",
    "connectionStatus": None,
    "visibility": None,
    "longitude": 7.59328,
    "latitude": 48.3729,
    "deviceTypeUid": str(ids.MASTERYS_TYPE),
    "deviceTypeReferenceId": "9204",
    "manufacturer": "Socomec",
    "location": None,
    "contractNumber": "Contract XXX",
    "modelName": "Masterys",
    "profileIsUpToDate": True,
    "createNoCommunicationAlarm": True,
    "noCommunicationPeriod": 60,
    "tags": None,
    "locked": False,
    "additionalInformation": "",
    "configurationKey": "SOCOMEDEVICELCONNECT_001",
    "storageName": "DataHub",
    "netId": None,
    "movingAuthorization": "INHERITED",
    "siteUuid": str(ids.BENFELD_CDS),
    "gatewayUuid": str(ids.MASTERYS_GATEWAY),
    "iconUuid": str(ids.MASTERYS_ICON),
    "timeZone": "Europe/Paris",
    "createdAt": "2021-03-23T14:52:40.552Z",
    "owned": True,
}


def test_devices_of_benfeld_cds_as_in_5_6_3(api: httpx.Client) -> None:
    params = {
        "take": 50,
        "skip": 0,
        "siteUuid": str(ids.BENFELD_CDS),
        "withContact": "true",
        "withAddress": "true",
    }
    page = ok(api.get(f"{CA}/devices", params=params))
    assert_keys(page, SPEC_PAGE_KEYS, what="page")
    assert page["total"] == 2
    for device in page["results"]:
        assert_keys(device, SPEC_DEVICE_KEYS, what=device["name"])
    masterys = next(d for d in page["results"] if d["uuid"] == str(ids.MASTERYS_U2_CDS))
    assert_keys(masterys["contact"], SPEC_CONTACT_KEYS, what="contact")
    assert_keys(masterys["address"], SPEC_ADDRESS_KEYS, what="address")
    assert {key: masterys[key] for key in MASTERYS_AS_IN_SPEC} == MASTERYS_AS_IN_SPEC
    assert isinstance(masterys["gatewayId"], int)
    assert masterys["contact"]["uuid"] == str(ids.MASTERYS_CONTACT)
    assert masterys["contact"]["useParent"] is True
    address = masterys["address"]
    assert address["uuid"] == str(ids.MASTERYS_ADDRESS)
    assert (address["postCode"], address["city"]) == ("67230", "Benfeld")
    assert address["country"] == "FRANCE"
    emails = masterys["emailTo"].split(";") + [masterys["emailCc"], masterys["contact"]["email"]]
    assert all(email.endswith("@example.com") for email in emails), emails


OVERLOAD_AS_IN_SPEC = {
    "deviceUuid": str(ids.MASTERYS_U2_CDS),
    "deviceSerialNumber": "P486271001",
    "deviceTypeUuid": str(ids.MASTERYS_TYPE),
    "label": "MASTERIS_U2_CDS",
    "itemUuid": str(ids.MASTERYS_GLOBAL_ITEM),
    "itemIndex": "0",
    "itemType": "Global",
    "serviceId": "141935",
    "serviceUuid": "be2f9626-51b4-4857-910b-294a4917446d",
    "serviceName": "IUpsStatistic_OverLoadMore5s_Delta",
    "serviceType": "Measure",
    "serviceGroup": "Output",
    "unit": None,
    "serviceTranslations": {
        "en": {"title": "Ups overload more than 5s Delta"},
        "fr": {
            "title": "Surcharge ASI supérieure à 5s (delta)",
            "shortName": "Surcharge ASI supérieure à 5s (delta)",
        },
    },
    "reason": {"fromTemplate": True, "reasons": [{"value": "IS_DEFAULT"}]},
    "source": "PROFILE",
    "pollingTime": 3600,
    "sendOnUpdate": False,
    "isComputed": True,
    "tags": [],
    "active": True,
    "streamRef": "Global 0 141935",
}


def test_variables_of_masterys_as_in_5_7_3(api: httpx.Client) -> None:
    body = ok(api.get(f"{CA}/devices/{ids.MASTERYS_U2_CDS}/variables"))
    assert_keys(body, SPEC_VARIABLES_PAGE_KEYS, what="variables page")
    assert body["total"] == len(body["results"]) > 1
    for variable in body["results"]:
        assert_keys(variable, SPEC_VARIABLE_KEYS, VARIABLE_EXTRAS, what=variable.get("serviceId"))
    overload_uuid = str(ids.MASTERYS_OVERLOAD_VARIABLE)
    overload = next(v for v in body["results"] if v["uuid"] == overload_uuid)
    assert {key: overload[key] for key in OVERLOAD_AS_IN_SPEC} == OVERLOAD_AS_IN_SPEC
    assert overload["mappingConfig"] == "Global|0|141935"


def test_python_walkthrough_7_1_pages_to_the_delphys(api: httpx.Client) -> None:
    """The spec's full Python example, as printed: find SoLink, then page devices 25 at a time."""
    resp_json = ok(api.get("/api/v1/ca"))
    ca_uuid = next(ca["uuid"] for ca in resp_json["results"] if ca["name"] == "SoLink")
    skip, take, total = 0, 25, 25
    device_uuid, found_at_skip = "", None
    while total > skip and not device_uuid:
        params = {"take": take, "skip": skip}
        resp_json = ok(api.get(f"/api/v1/ca/{ca_uuid}/devices", params=params))
        for device in resp_json["results"]:
            if device["serialNumber"] == ids.DELPHYS_SERIAL:
                device_uuid, found_at_skip = device["uuid"], skip
                break
        skip += take
        total = resp_json["total"]
    assert device_uuid == str(ids.DELPHYS_GP2)
    assert found_at_skip and found_at_skip >= 25, "the Delphys must not be on the first page"
    assert total >= 60
    delphys = ok(api.get(f"/api/v1/ca/{ca_uuid}/devices/{device_uuid}"))
    assert (delphys["name"], delphys["timeZone"]) == ("Delphys GP2 - 160 kVA", "Europe/Paris")
    assert delphys["deviceTypeUid"] == str(ids.DELPHYS_TYPE)
    gateway = ok(api.get(f"/api/v1/ca/{ca_uuid}/devices/{device_uuid}/gateway"))
    assert (gateway["uuid"], gateway["name"]) == (str(ids.BENFELD_U3_GATEWAY), "IoT Gateway")
    assert gateway["deviceTypeUid"] == str(ids.GATEWAY_TYPE)
    assert gateway["siteUuid"] == str(ids.BENFELD_U3)


def test_spec_uuids_resolve(api: httpx.Client) -> None:
    assert ok(api.get(f"{CA}/customers/{ids.FR_SOCOMEC}"))["name"] == "FR_Socomec"
    assert ok(api.get(f"{CA}/sites/{ids.BENFELD_CDS}"))["name"] == "(FR) Benfeld CDS"
    device = ok(api.get(f"{CA}/devices/{ids.MASTERYS_U2_CDS}"))
    assert (device["name"], device["serialNumber"]) == ("Masterys U2 CDS", ids.MASTERYS_SERIAL)
    gateway = ok(api.get(f"{CA}/devices/{ids.MASTERYS_U2_CDS}/gateway"))
    assert gateway["uuid"] == str(ids.MASTERYS_GATEWAY)
    # the spec's objects belong to SoLink only
    other = f"/api/v1/ca/{ids.ENERGY_STORAGE}"
    assert api.get(f"{other}/devices/{ids.MASTERYS_U2_CDS}").status_code == 404
    assert api.get(f"{other}/customers/{ids.FR_SOCOMEC}").status_code == 404


def test_other_accounts_have_devices(api: httpx.Client) -> None:
    for ca_uuid, type_uuids in [
        (ids.ENERGY_STORAGE, {str(ids.METER_TYPE), str(ids.GATEWAY_TYPE)}),
        (ids.SOCOMEC, {str(ids.GATEWAY_TYPE)}),
    ]:
        url = f"/api/v1/ca/{ca_uuid}/devices"
        devices = ok(api.get(url, params={"take": 1000}))["results"]
        assert type_uuids <= {d["deviceTypeUid"] for d in devices}
        assert all(d["serialNumber"] != ids.DELPHYS_SERIAL for d in devices)


def test_data_access_groups_as_in_3_1(api: httpx.Client) -> None:
    page = ok(api.get(f"{CA}/data-access-groups", params={"take": 1000}))
    by_name = {group["name"]: group for group in page["results"]}
    assert set(SPEC_DAGS) <= set(by_name)
    for name, expected in SPEC_DAGS.items():
        group = by_name[name]
        assert (group["countryCode"], group["customersQuantity"]) == expected, name


def test_each_account_logs_its_seeding(api: httpx.Client) -> None:
    for ca_uuid in (ids.SOLINK, ids.SOCOMEC, ids.ENERGY_STORAGE):
        page = ok(api.get(f"/api/v1/ca/{ca_uuid}/logs", params={"action": "DEMO_SEEDED"}))
        assert page["total"] == 1
        assert page["results"][0]["objectUuid"] == str(ca_uuid)
