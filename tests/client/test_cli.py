"""The `sodata` user commands, run in-process (typer's runner) against the demo server:
the stored login, tables and --json, exports and imports, and the documented exit codes."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from sodata.cli import app
from sodata.cli.user import (
    EXIT_API_ERROR,
    EXIT_AUTH,
    EXIT_FORBIDDEN,
    EXIT_NOT_FOUND,
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Aggregation,
)
from sodata.client import Client
from sodata.client.config import ENV
from sodata.client.datapoints import AGGREGATIONS
from sodata.demo import ids
from sodata.demo.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD
from sodata.demo.ids import ADMIN_EMAIL, DEMO_EMAIL, VIEWER_EMAIL
from tests import factories
from tests.client.conftest import OwnAccount, closed_port_url, demo_env
from tests.conftest import Server

LOAD = "Global|0|140100"
NO_ENV = {name: None for name in [*ENV.values(), "SODATA_CA"]}


def run(
    args: list[str], home: Path, env: dict[str, str] | None = None, input: str | None = None
) -> Result:
    """`sodata ARGS` with its config directory in `home` and only `env` set of SODATA_*."""
    full = {**NO_ENV, "XDG_CONFIG_HOME": str(home), **(env or {})}
    return CliRunner().invoke(app, args, env=full, input=input)


def login_args(server: Server, username: str = DEMO_EMAIL) -> list[str]:
    return [
        "login",
        "--url",
        server.url,
        "--client-id",
        DEMO_CLIENT_ID,
        "--client-secret",
        DEMO_CLIENT_SECRET,
        "--username",
        username,
        "--password-stdin",
    ]


@pytest.fixture(scope="module")
def home(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config directory with a stored login of demo@example.com (so that the commands run
    with it do not sign in again)."""
    path = tmp_path_factory.mktemp("home")
    done = run(login_args(server), path, input=DEMO_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    return path


def test_login_stores_a_private_refresh_token_that_the_commands_use(
    server: Server, tmp_path
) -> None:
    done = run(login_args(server), tmp_path, input=DEMO_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    stored = tmp_path / "sodata" / "login.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    login = json.loads(stored.read_text())
    assert login["url"] == server.url and login["username"] == DEMO_EMAIL and login["refresh_token"]
    assert DEMO_PASSWORD not in stored.read_text()
    assert str(stored) in done.stderr

    # no flags, no environment: the stored login
    listed = run(["ca", "list", "--json"], tmp_path)
    assert listed.exit_code == 0, listed.output
    assert [a["name"] for a in json.loads(listed.stdout)] == ["SoLink"]

    # the access token has expired: the command refreshes, and stores the rotated tokens
    login["access_expires_at"] = 0
    stored.write_text(json.dumps(login))
    found = run(["devices", "find", "--serial", ids.DELPHYS_SERIAL, "--json"], tmp_path)
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["uuid"] == str(ids.DELPHYS_GP2)
    rotated = json.loads(stored.read_text())
    assert rotated["refresh_token"] != login["refresh_token"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    # the next command uses the new refresh token (the old one would end the session)
    rotated["access_expires_at"] = 0
    stored.write_text(json.dumps(rotated))
    assert run(["customers", "list"], tmp_path).exit_code == 0

    # a flag for another server does not take this login
    elsewhere = run(["ca", "list", "--url", "http://127.0.0.1:1"], tmp_path)
    assert elsewhere.exit_code == EXIT_AUTH and "stored login is for" in elsewhere.stderr

    # logout ends the session at the server and deletes the file
    last = json.loads(stored.read_text())["refresh_token"]
    assert run(["logout"], tmp_path).exit_code == 0 and not stored.exists()
    refused = httpx.post(
        f"{server.url}/realms/sodata/protocol/openid-connect/token",
        data={
            "grant_type": "refresh_token",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "refresh_token": last,
        },
    )
    assert refused.status_code == 400
    gone = run(["ca", "list"], tmp_path)
    assert gone.exit_code == EXIT_AUTH and "sodata login" in gone.stderr


def test_tables_and_json(home: Path, sdk: Client) -> None:
    sites = run(["sites", "list", "--customer", str(ids.FR_SOCOMEC)], home)
    assert sites.exit_code == 0, sites.output
    assert "(FR) Benfeld CDS" in sites.stdout and "Europe/Paris" in sites.stdout
    customers = run(["customers", "list", "--ca", "SoLink", "--json"], home)
    names = {c["name"] for c in json.loads(customers.stdout)}
    assert "FR_Socomec" in names and len(names) == sdk.customers.list(ids.SOLINK).count()
    devices = run(["devices", "list", "--json"], home)
    assert len(json.loads(devices.stdout)) == sdk.devices.list(ids.SOLINK).count()
    variables = run(["variables", "list", ids.MASTERYS_SERIAL, "--json"], home)
    by_uuid = {v["uuid"]: v for v in json.loads(variables.stdout)}
    assert by_uuid[str(ids.MASTERYS_OVERLOAD_VARIABLE)]["mappingConfig"] == "Global|0|141935"
    table = run(["variables", "list", str(ids.MASTERYS_U2_CDS)], home)
    assert "Global|0|141935" in table.stdout
    last = run(["last-values", ids.DELPHYS_SERIAL, "--json"], home)
    values = {
        f"{v['itemType']}|{v['itemIndex']}|{v['serviceId']}": v for v in json.loads(last.stdout)
    }
    assert values["Global|0|140108"]["unit"] == "AMPERE"
    assert "Ups output current L3" in run(["last-values", ids.DELPHYS_SERIAL], home).stdout


def test_exit_codes(server: Server, home: Path, tmp_path, throwaway_user: str) -> None:
    env = demo_env(server)
    wrong = {**demo_env(server, throwaway_user), "SODATA_PASSWORD": "wrong-password"}
    bad_password = run(["ca", "list"], tmp_path, wrong)
    assert bad_password.exit_code == EXIT_AUTH and "Invalid user credentials" in bad_password.stderr
    failed_login = run(login_args(server, throwaway_user), tmp_path, input="wrong-password\n")
    assert failed_login.exit_code == EXIT_AUTH and not (tmp_path / "sodata" / "login.json").exists()
    unreachable = run(["ca", "list"], tmp_path, {**env, "SODATA_URL": closed_port_url()})
    assert unreachable.exit_code == EXIT_UNREACHABLE and "cannot reach" in unreachable.stderr
    unknown = run(["last-values", "NO-SUCH-DEVICE"], home)
    assert unknown.exit_code == EXIT_NOT_FOUND and "NO-SUCH-DEVICE" in unknown.stderr
    unknown_ca = run(["devices", "list", "--ca", "Nope"], home)
    assert unknown_ca.exit_code == EXIT_NOT_FOUND
    refused = run([*_export(), "--timezone", "Mars/Olympus"], tmp_path, env)
    assert refused.exit_code == EXIT_API_ERROR and "timezone" in refused.stderr
    usage = run([*_export(), "--granularity", "day"], home)
    assert usage.exit_code == EXIT_USAGE and "aggregation" in usage.stderr
    viewer = demo_env(server, VIEWER_EMAIL)
    file = tmp_path / "points.csv"
    file.write_text(f"at,{LOAD}\n2024-01-01T00:00:00Z,1\n")
    forbidden = run(["ingest", str(file), "--device", ids.DELPHYS_SERIAL], tmp_path, viewer)
    assert forbidden.exit_code == EXIT_FORBIDDEN, forbidden.output


def _export(*extra: str) -> list[str]:
    return [
        "datapoints",
        "export",
        "--device",
        ids.DELPHYS_SERIAL,
        "--var",
        LOAD,
        "--from",
        "2022-05-18",
        "--to",
        "2022-05-19",
        *extra,
    ]


def test_export_csv_json_and_parquet(home: Path, tmp_path, sdk: Client) -> None:
    expected = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19")
    to_stdout = run([*_export(), "--page-size", "100"], home)
    assert to_stdout.exit_code == 0, to_stdout.output
    assert to_stdout.stdout == expected.to_csv()
    assert "720 points of 1 series (8 request(s))" in to_stdout.stderr
    as_json = run([*_export(), "-o", str(tmp_path / "x.json")], home)
    assert as_json.exit_code == 0, as_json.output
    body = json.loads((tmp_path / "x.json").read_text())
    assert body == expected.to_json()
    as_parquet = run([*_export(), "-o", str(tmp_path / "x.parquet")], home)
    assert as_parquet.exit_code == 0, as_parquet.output
    table = pq.read_table(tmp_path / "x.parquet")
    assert table.num_rows == 720 and table.column_names == ["at", LOAD]
    daily = run(
        [
            *_export("--granularity", "day", "--aggregation", "avg", "--timezone", "Europe/Paris"),
            "--var",
            "Global|0|140108",
            "--format",
            "csv",
        ],
        home,
    )
    assert daily.exit_code == 0, daily.output
    header, row = daily.stdout.splitlines()
    assert header == f"at,{LOAD},Global|0|140108"
    at, *values = row.split(",")
    assert at == "2022-05-17T22:00:00Z" and len([float(v) for v in values]) == 2


def test_export_takes_every_aggregation(home: Path, sdk: Client) -> None:
    """--aggregation offers what the SDK accepts; the newer ones (first, last, delta, twa)
    export what the SDK reads, and the help says what they are."""
    assert [a.value for a in Aggregation] == list(AGGREGATIONS)
    shown = run([*_export(), "--help"], home, {"COLUMNS": "200"})
    assert "avg|min|max|count|sum|var|stdev|first|last|delta|twa" in shown.stdout
    assert "time-weighted average" in shown.stdout and "cumulative counter" in shown.stdout
    for aggregation in ("first", "last", "delta", "twa"):
        done = run([*_export("--granularity", "hour", "--aggregation", aggregation)], home)
        assert done.exit_code == 0, done.output
        expected = sdk.datapoints.query(
            ids.SOLINK,
            ids.DELPHYS_GP2,
            LOAD,
            "2022-05-18",
            "2022-05-19",
            granularity="hour",
            aggregation=aggregation,
        )
        assert len(expected[0]) == 24 and done.stdout == expected.to_csv(), aggregation
    unknown = run([*_export("--granularity", "hour", "--aggregation", "median")], home)
    assert unknown.exit_code == EXIT_USAGE and "twa" in unknown.stderr


@pytest.fixture(scope="module")
def two_devices(api: httpx.Client, own_account: OwnAccount) -> tuple[dict, dict]:
    """Two new Masterys in the tests' own account."""
    return (
        factories.device(api, own_account.uuid, own_account.site),
        factories.device(api, own_account.uuid, own_account.site),
    )


@pytest.fixture(scope="module")
def admin_home(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config directory with a stored login of admin@example.com."""
    path = tmp_path_factory.mktemp("admin-home")
    done = run(login_args(server, ADMIN_EMAIL), path, input=DEMO_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    return path


def test_ingest_csv_reports_rejected_rows(
    admin_home: Path, tmp_path, two_devices, admin_sdk: Client, own_account: OwnAccount
) -> None:
    device = two_devices[0]
    wide = tmp_path / "wide.csv"
    wide.write_text(
        f"at,{LOAD},Global|0|140108\n"
        "2024-03-01T00:00:00Z,1,10\n"
        "2024-03-01T00:01:00Z,2,\n"
        "2024-03-01T00:02:00Z,oops,12.5\n"
    )
    done = run(
        [
            "ingest",
            str(wide),
            "--device",
            device["serialNumber"],
            "--batch-size",
            "2",
            "--ca",
            own_account.uuid,
        ],
        admin_home,
    )
    assert done.exit_code == EXIT_REJECTED, done.output
    assert "4 points accepted, 1 rejected" in done.stderr
    assert "line 4" in done.stderr and "oops" in done.stderr
    stored = admin_sdk.datapoints.query(
        own_account.uuid, device["uuid"], [LOAD, "Global|0|140108"], "2024-03-01", "2024-03-02"
    )
    assert stored[0].values == [1, 2] and stored[1].values == [10, 12.5]
    # long format, JSON summary; sending points again replaces them
    long = tmp_path / "long.csv"
    long.write_text(f"at,variable,value,device\n2024-03-01T00:01:00Z,{LOAD},7,{device['uuid']}\n")
    again = run(["ingest", str(long), "--json", "--ca", own_account.name], admin_home)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"accepted": 1, "rejected": 0, "errors": []}
    stored = admin_sdk.datapoints.query(
        own_account.uuid, device["uuid"], LOAD, "2024-03-01", "2024-03-02"
    )
    assert stored[0].values == [1, 7]


def test_export_then_ingest_json_copies_a_history(
    admin_home: Path, tmp_path, two_devices, admin_sdk: Client, own_account: OwnAccount
) -> None:
    exported = tmp_path / "delphys.json"
    done = run([*_export("--ca", "SoLink"), "-o", str(exported)], admin_home)
    assert done.exit_code == 0, done.output
    assert {s["deviceUuid"] for s in json.loads(exported.read_text())["series"]} == {
        str(ids.DELPHYS_GP2)
    }
    target = two_devices[1]  # --device wins over the file's deviceUuid: a copy, not a rewrite
    sent = run(
        ["ingest", str(exported), "--ca", own_account.uuid, "--device", target["uuid"]],
        admin_home,
    )
    assert sent.exit_code == 0, sent.output
    assert "720 points accepted, 0 rejected" in sent.stderr
    copied = admin_sdk.datapoints.query(
        own_account.uuid, target["uuid"], LOAD, "2022-05-18", "2022-05-19"
    )
    original = admin_sdk.datapoints.query(
        ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19"
    )
    assert copied[0].at == original[0].at and copied[0].values == original[0].values


def test_flags_override_the_environment(server: Server, tmp_path) -> None:
    env = {**demo_env(server), "SODATA_URL": closed_port_url()}
    done = run(["ca", "list", "--url", server.url, "--json"], tmp_path, env)
    assert done.exit_code == 0, done.output
    listed = run(
        ["ca", "list", "--json", "--username", "nobody@example.com"],
        tmp_path,
        {**env, "SODATA_URL": server.url},
    )
    assert listed.exit_code == EXIT_AUTH
    picked = run(
        ["devices", "find", "--serial", ids.DELPHYS_SERIAL, "--ca", str(ids.SOLINK), "--json"],
        tmp_path,
        {**env, "SODATA_URL": server.url},
    )
    assert (
        picked.exit_code == 0 and json.loads(picked.stdout)[0]["serialNumber"] == ids.DELPHYS_SERIAL
    )
    assert uuid.UUID(json.loads(picked.stdout)[0]["uuid"]) == ids.DELPHYS_GP2
