"""The synchronous SDK against the demo server: objects, lazy paging, errors, sign-in
grants, settings from the environment and files, and retries through a flaky proxy."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from sodata.client import (
    AuthenticationError,
    BadRequest,
    Client,
    CorporateAccount,
    Device,
    NotFound,
    ServerUnreachable,
    Variable,
)
from sodata.demo import ids
from tests.client.conftest import (
    FlakyProxy,
    OwnAccount,
    closed_port_url,
    demo_env,
    demo_settings,
    recorded_client,
)
from tests.conftest import Server


def test_corporate_accounts_and_the_spec_objects(sdk: Client) -> None:
    accounts = list(sdk.corporate_accounts.list())
    assert [a.name for a in accounts] == ["SoLink"]  # demo@example.com is linked to SoLink only
    solink = accounts[0]
    assert isinstance(solink, CorporateAccount) and solink.uuid == ids.SOLINK
    assert solink.default_customer_uuid is None and solink.icon_uuid == ids.SOLINK_ICON
    assert sdk.corporate_accounts.get(str(ids.SOLINK)).name == "SoLink"
    assert sdk.corporate_accounts.find("SoLink").uuid == ids.SOLINK
    fr = sdk.customers.get(solink, ids.FR_SOCOMEC)
    assert fr.name == "FR_Socomec" and fr.company_address.city == "Benfeld"
    assert fr.contact.email_cc == ""  # the spec's "emailCC"
    site = sdk.sites.get(solink, ids.BENFELD_CDS)
    assert (site.name, site.time_zone, site.devices_quantity) == (
        "(FR) Benfeld CDS",
        "Europe/Paris",
        2,
    )
    assert sdk.sites.count(solink, customer=ids.FR_SOCOMEC) == 3
    masterys = sdk.devices.get(solink, ids.MASTERYS_U2_CDS)
    assert masterys.serial_number == ids.MASTERYS_SERIAL and masterys.address.post_code == "67230"
    assert masterys.created_at.isoformat() == "2021-03-23T14:52:40.552000+00:00"
    assert sdk.devices.gateway(solink, masterys).uuid == ids.MASTERYS_GATEWAY
    # the objects keep the fields they do not model, and give back the API's JSON
    assert masterys.to_json()["deviceTypeReferenceId"] == "9204"


def test_lists_are_lazy_and_read_every_page(server: Server, api: httpx.Client) -> None:
    client, recorder = recorded_client(server)
    with client:
        expected = api.get(f"/api/v1/ca/{ids.SOLINK}/devices", params={"take": 1000}).json()
        total = expected["total"]
        assert total > 60
        pager = client.devices.list(ids.SOLINK, page_size=7)
        first = next(iter(pager))
        assert len(recorder.api()) == 1 and pager.total == total  # one page read, no more
        recorder.clear()
        devices = list(pager)
        assert len(recorder.api()) == math.ceil(total / 7)
        assert [d.uuid for d in devices] == [uuid.UUID(d["uuid"]) for d in expected["results"]]
        assert devices[0] == first and all(isinstance(d, Device) for d in devices)
        recorder.clear()
        assert len(list(client.devices.list(ids.SOLINK, page_size=7, limit=10))) == 10
        assert [p for _, p, _ in recorder.api()] == [f"/api/v1/ca/{ids.SOLINK}/devices"] * 2
        assert client.devices.list(ids.SOLINK).count() == total
        # filters
        benfeld = list(client.devices.list(ids.SOLINK, site=ids.BENFELD_CDS))
        assert {d.uuid for d in benfeld} >= {ids.MASTERYS_U2_CDS}
        fr_sites = list(client.sites.list(ids.SOLINK, customer=ids.FR_SOCOMEC, page_size=2))
        assert len(fr_sites) == 3
        behind = list(client.devices.list(ids.SOLINK, gateway=ids.BENFELD_U3_GATEWAY))
        assert ids.DELPHYS_GP2 in {d.uuid for d in behind}
        assert [d.name for d in client.devices.list(ids.SOLINK, name="gp2")] == [
            "Delphys GP2 - 160 kVA"
        ]
    with Client(**demo_settings(server, ids.VIEWER_EMAIL)) as viewer:
        readable = viewer.devices.list(ids.SOLINK, readable=True).count()
        assert 0 < readable < viewer.devices.list(ids.SOLINK).count() == total


def test_find_a_device_by_serial_number_in_one_request(server: Server) -> None:
    client, recorder = recorded_client(server)
    with client:
        delphys = client.devices.find(ids.SOLINK, serial_number=ids.DELPHYS_SERIAL)
        assert delphys.uuid == ids.DELPHYS_GP2 and delphys.time_zone == "Europe/Paris"
        assert len(recorder.api()) == 1
        with pytest.raises(NotFound) as caught:
            client.devices.find(ids.SOLINK, serial_number="NO-SUCH-SERIAL")
        assert caught.value.status_code == 404 and "NO-SUCH-SERIAL" in caught.value.message


def test_errors_carry_the_api_status_code_and_message(sdk: Client) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound) as caught:
        sdk.devices.get(ids.SOLINK, missing)
    error = caught.value
    assert (error.status_code, error.statusCode, error.error) == (404, 404, "Not Found")
    assert error.message == f"Device {missing} not found"
    assert str(missing) in str(error)
    with pytest.raises(BadRequest) as caught:
        list(sdk.devices.list(ids.SOLINK, sort_by="colour"))
    assert caught.value.status_code == 400 and "sortBy" in caught.value.message
    with pytest.raises(BadRequest) as caught:
        sdk.request("GET", f"/api/v1/ca/{ids.SOLINK}/devices", params={"take": 5000})
    assert caught.value.message.startswith("take:")
    with pytest.raises(ValueError, match="uuid"):
        sdk.devices.get("SoLink", ids.MASTERYS_U2_CDS)  # names are not uuids


def test_items_variables_groups_and_logs(sdk: Client) -> None:
    ca = ids.SOLINK
    items = sdk.items.list(ca, ids.MASTERYS_U2_CDS)
    glob = next(i for i in items if i.item_type == "Global")
    assert (
        sdk.items.get(ca, ids.MASTERYS_U2_CDS, glob).variables_quantity == glob.variables_quantity
    )
    variables = sdk.variables.list(ca, ids.MASTERYS_U2_CDS)
    overload = next(v for v in variables if v.uuid == ids.MASTERYS_OVERLOAD_VARIABLE)
    assert isinstance(overload, Variable) and overload.mapping_config == "Global|0|141935"
    assert overload.title == "Ups overload more than 5s Delta"
    assert (
        sdk.variables.get(ca, ids.MASTERYS_U2_CDS, overload).service_name == overload.service_name
    )
    found = sdk.variables.find(ca, ids.DELPHYS_GP2, "Global|0|140100")
    assert (found.device_uuid, found.service_id) == (ids.DELPHYS_GP2, "140100")
    searched = list(sdk.variables.search(ca, mapping_configs=["Global|0|140100"], page_size=5))
    assert {v.mapping_config for v in searched} == {"Global|0|140100"}
    assert {ids.DELPHYS_GP2, ids.MASTERYS_U2_CDS} <= {v.device_uuid for v in searched}
    groups = {g.name: g for g in sdk.access_groups.list(ca, page_size=3)}
    assert groups["SoLink FR"].customers_quantity == 4
    fr_customers = list(sdk.access_groups.customers(ca, groups["SoLink FR"]))
    assert len(fr_customers) == 4 and "FR_Socomec" in {c.name for c in fr_customers}
    seeded = list(sdk.logs.list(ca, action="DEMO_SEEDED"))
    assert len(seeded) == 1 and seeded[0].object_uuid == ids.SOLINK
    assert sdk.logs.get(ca, seeded[0]).action == "DEMO_SEEDED"
    since = datetime(2000, 1, 1, tzinfo=UTC)
    assert [e.uuid for e in sdk.logs.list(ca, frm=since, object_uuid=ca, action="DEMO_SEEDED")] == [
        seeded[0].uuid
    ]
    assert list(sdk.logs.list(ca, to=since, action="DEMO_SEEDED")) == []


def test_last_values(sdk: Client) -> None:
    values = sdk.last_values.get(ids.SOLINK, ids.DELPHYS_GP2)
    by_mapping = {v.mapping_config: v for v in values}
    assert {"Global|0|140100", "Global|0|140108"} <= set(by_mapping)
    current = by_mapping["Global|0|140108"]
    assert current.title == "Ups output current L3" and current.unit == "AMPERE"
    assert float(current.value) >= 0 and current.date.tzinfo is not None
    many = sdk.last_values.many(ids.SOLINK, [ids.DELPHYS_GP2, ids.MASTERYS_U2_CDS])
    assert set(many) == {ids.DELPHYS_GP2, ids.MASTERYS_U2_CDS}
    assert [v.value for v in many[ids.DELPHYS_GP2]] == [v.value for v in values]


def test_bad_credentials_and_bad_client(server: Server, throwaway_user: str) -> None:
    wrong = {**demo_settings(server, throwaway_user), "password": "not-the-password"}
    with Client(**wrong) as client:
        with pytest.raises(AuthenticationError) as caught:
            list(client.corporate_accounts.list())
    assert caught.value.error == "invalid_grant" and "Invalid user credentials" in str(caught.value)
    with Client(**{**demo_settings(server), "client_secret": "wrong"}) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.sign_in()
    assert caught.value.error == "invalid_client"
    with Client(**{**demo_settings(server), "realm": "nope"}) as client:
        with pytest.raises(AuthenticationError):
            client.sign_in()


def test_unreachable_server(server: Server) -> None:
    settings = {**demo_settings(server), "base_url": closed_port_url()}
    started = time.monotonic()
    with Client(**settings, retries=2, backoff=0.01) as client:
        with pytest.raises(ServerUnreachable, match="cannot reach http://127.0.0.1"):
            list(client.corporate_accounts.list())
    assert time.monotonic() - started < 5


def test_client_credentials_grant(
    server: Server, api: httpx.Client, own_account: OwnAccount
) -> None:
    client_id = f"sdk-test-{uuid.uuid4().hex[:8]}"
    created = api.post(
        f"/api/v1/ca/{own_account.uuid}/clients", json={"clientId": client_id, "role": "viewer"}
    )
    assert created.status_code == 201, created.text
    secret = created.json()["clientSecret"]
    with Client(
        base_url=server.url, realm="sodata", client_id=client_id, client_secret=secret
    ) as c:
        assert [a.name for a in c.corporate_accounts.list()] == [own_account.name]
        assert [s.uuid for s in c.sites.list(own_account.uuid)] == [uuid.UUID(own_account.site)]
        assert c.username is None and c._tokens.grant == "client_credentials"


def test_settings_from_env_and_from_files(server: Server, tmp_path) -> None:
    env = demo_env(server)
    with Client.from_env(env) as client:
        assert client.base_url == server.url and client.username == env["SODATA_USERNAME"]
        assert client.corporate_accounts.find("SoLink").uuid == ids.SOLINK
    with Client.from_env({**env, "SODATA_URL": "http://elsewhere"}, base_url=server.url) as client:
        assert client.base_url == server.url  # keyword arguments win
    toml = tmp_path / "sodata.toml"
    toml.write_text(
        "\n".join(f'{k.removeprefix("SODATA_").lower()} = "{v}"' for k, v in env.items()) + "\n"
    )
    with Client.from_config(toml) as client:
        assert client.devices.find(ids.SOLINK, ids.MASTERYS_SERIAL).uuid == ids.MASTERYS_U2_CDS
    with pytest.raises(ValueError, match="base_url"):
        Client.from_env({})


def test_idempotent_calls_are_retried_through_503_and_429(
    server: Server, flaky: FlakyProxy
) -> None:
    settings = {**demo_settings(server), "base_url": flaky.url}
    with Client(**settings, backoff=0.01) as client:
        flaky.failures = 2
        assert client.corporate_accounts.get(ids.SOLINK).name == "SoLink"
        assert [s for _, _, s in flaky.seen] == [503, 503, 200]
        flaky.seen.clear()
        flaky.status, flaky.failures = 429, 1
        result = client.datapoints.query(
            ids.SOLINK, ids.DELPHYS_GP2, "Global|0|140100", "2022-05-18", "2022-05-19"
        )
        assert len(result[0]) > 100 and [s for _, _, s in flaky.seen] == [429, 200]
        # retries run out: the error is raised with the API's status and message
        flaky.seen.clear()
        flaky.status, flaky.failures = 503, 10
        with pytest.raises(Exception) as caught:
            client.corporate_accounts.get(ids.SOLINK)
        assert caught.value.status_code == 503 and caught.value.message == "try later"
        assert len(flaky.seen) == 4  # the call and its 3 retries
        # a POST that creates something is not retried (it may have been done)
        flaky.seen.clear()
        flaky.failures = 1
        with pytest.raises(Exception) as caught:
            client.request("POST", f"/api/v1/ca/{ids.SOLINK}/customers", json={"name": "x"})
        assert caught.value.status_code == 503 and len(flaky.seen) == 1
