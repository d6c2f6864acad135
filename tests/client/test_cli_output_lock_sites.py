"""`-o -` for standard output, a token store lock that leaves no file behind, and site
names in the devices' table."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from sodata.cli import app
from sodata.cli.user import EXIT_USAGE
from sodata.client import Client
from sodata.client.config import LoginStore
from sodata.demo import ids
from sodata.demo.credentials import DEMO_PASSWORD
from tests.client.test_cli import LOAD, NO_ENV, _export, home, login_args, run
from tests.conftest import Server

__all__ = ["home"]  # the module fixture of test_cli: a stored login of demo@example.com


def test_dash_output_is_standard_output(home: Path, tmp_path, sdk: Client, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a file named `-` would be written
    expected = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19")
    as_csv = run([*_export(), "-o", "-"], home)
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.stdout == expected.to_csv()
    assert "written to standard output as csv" in as_csv.stderr
    as_json = run([*_export(), "--output", "-", "--format", "json"], home)
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == expected.to_json()
    # parquet, piped (the runner's stdout is no terminal): the file's bytes
    as_parquet = CliRunner().invoke(
        app,
        [*_export(), "-o", "-", "--format", "parquet"],
        env={**NO_ENV, "XDG_CONFIG_HOME": str(home)},
    )
    assert as_parquet.exit_code == 0, as_parquet.output
    table = pq.read_table(io.BytesIO(as_parquet.stdout_bytes))
    assert table.num_rows == 720 and table.column_names == ["at", LOAD]
    assert not (tmp_path / "-").exists() and list(tmp_path.iterdir()) == []


def test_parquet_to_a_terminal_is_refused(tmp_path) -> None:
    main, replica = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sodata", *_export(), "--format", "parquet", "-o", "-"],
            stdin=subprocess.DEVNULL,
            stdout=replica,
            stderr=subprocess.PIPE,
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("SODATA_")},
                "XDG_CONFIG_HOME": str(tmp_path),
            },
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    finally:
        os.close(replica)
        os.close(main)
    stderr = done.stderr.decode()
    assert done.returncode == EXIT_USAGE, stderr
    assert "redirect" in stderr and "-o FILE.parquet" in stderr
    assert not (tmp_path / "-").exists()


def test_login_and_logout_leave_no_lock_file(server: Server, tmp_path) -> None:
    config = tmp_path / "sodata"
    done = run(login_args(server), tmp_path, input=DEMO_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    stored = config / "login.json"
    login = json.loads(stored.read_text())
    login["access_expires_at"] = 0  # the next command refreshes, under the lock
    stored.write_text(json.dumps(login))
    listed = run(["ca", "list", "--json"], tmp_path)
    assert listed.exit_code == 0, listed.output
    assert json.loads(stored.read_text())["refresh_token"] != login["refresh_token"]
    assert list(config.glob("*.lock")) == []
    (config / "login.json.lock").write_text("")  # as an earlier version left it
    assert run(["logout"], tmp_path).exit_code == 0
    assert list(config.iterdir()) == []


HOLD = textwrap.dedent(
    """
    import sys, time
    from sodata.client.config import LoginStore

    with LoginStore(sys.argv[1]).lock():
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def test_the_lock_excludes_another_process_and_leaves_nothing(tmp_path) -> None:
    store = LoginStore(tmp_path / "sodata" / "login.json")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store.path), "1.5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        started = time.monotonic()
        with store.lock():
            waited = time.monotonic() - started
        assert waited > 0.5
    finally:
        holder.wait(timeout=30)
    assert holder.returncode == 0
    # and the other way round: a process waits while this one holds the lock
    with store.lock():
        waiter = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(store.path), "0"], stdout=subprocess.PIPE, text=True
        )
        time.sleep(1.0)
        assert waiter.poll() is None
    assert waiter.communicate(timeout=30)[0] == "locked\n" and waiter.returncode == 0
    assert list(store.path.parent.iterdir()) == []


def test_devices_list_shows_site_names(home: Path, sdk: Client) -> None:
    device = sdk.devices.get(ids.SOLINK, ids.DELPHYS_GP2, details=False)
    site = sdk.sites.get(ids.SOLINK, device.site_uuid, details=False)
    table = run(["devices", "list"], home)
    assert table.exit_code == 0, table.output
    row = next(line for line in table.stdout.splitlines() if ids.DELPHYS_SERIAL in line)
    assert site.name in row and str(site.uuid) not in row
    found = run(["devices", "find", "--serial", ids.DELPHYS_SERIAL], home)
    assert site.name in found.stdout
    # --json stays the API's objects
    listed = json.loads(run(["devices", "list", "--json"], home).stdout)
    mine = next(d for d in listed if d["uuid"] == str(ids.DELPHYS_GP2))
    assert mine["siteUuid"] == str(site.uuid) and "siteName" not in mine
    # and the sites' table names their customer
    sites = run(["sites", "list"], home)
    customer = sdk.customers.get(ids.SOLINK, site.customer_uuid, details=False)
    line = next(line for line in sites.stdout.splitlines() if str(site.uuid) in line)
    assert customer.name in line and str(customer.uuid) not in line
