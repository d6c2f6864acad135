"""A datapoints query whose range holds no point says so: the SDK warns NoDataWarning (the
server's Sodata-Notice text, or a generic one from a server without it) and `datapoints
export` prints a warning on standard error, its standard output and exit code unchanged."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import httpx
import pytest

from sodata.client import AsyncClient, Client, NoDataWarning
from sodata.demo import ids
from sodata.demo.credentials import DEMO_PASSWORD
from tests.client.conftest import demo_settings
from tests.client.test_cli import LOAD, _export, login_args, run
from tests.conftest import Server

EMPTY = ("2000-01-01", "2000-01-02")  # before any demo point
FULL = ("2022-05-18", "2022-05-19")


def test_the_sdk_warns_with_the_servers_words(sdk: Client) -> None:
    with pytest.warns(NoDataWarning) as caught:
        answer = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, *EMPTY)
    assert answer.points == 0 and len(answer) == 1
    (warning,) = caught
    text = str(warning.message)
    assert text.startswith(f"series[0] ({LOAD} of device {ids.DELPHYS_GP2}): no data from ")
    assert "2000-01-01T00:00:00.000Z to 2000-01-02T00:00:00.000Z; its data spans 20" in text
    assert warning.filename == __file__  # the caller's line, not the SDK's


def test_the_sdk_does_not_warn_when_there_is_data(sdk: Client) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoDataWarning)
        answer = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, *FULL)
    assert answer.points == 720


def test_a_server_without_notices_gets_a_generic_warning(server: Server) -> None:
    """The vendor's server sends no Sodata-Notice: every series empty still warns."""

    def strip(response: httpx.Response) -> None:
        response.headers.pop("Sodata-Notice", None)

    http = httpx.Client(timeout=30, event_hooks={"response": [strip]})
    with Client(**demo_settings(server), http=http) as client:
        with pytest.warns(
            NoDataWarning, match=rf"^no data between 2000-01-01 and 2000-01-02 \(UTC\) for {LOAD}$"
        ):
            client.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, *EMPTY)
        with warnings.catch_warnings():
            warnings.simplefilter("error", NoDataWarning)
            assert client.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, *FULL).points


def test_the_async_client_warns_too(server: Server) -> None:
    async def main() -> None:
        async with AsyncClient(**demo_settings(server)) as client:
            await client.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, *EMPTY)

    with pytest.warns(NoDataWarning, match="its data spans"):
        asyncio.run(main())


@pytest.fixture(scope="module")
def home(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config directory with a stored login of demo@example.com."""
    path = tmp_path_factory.mktemp("no-data-home")
    done = run(login_args(server), path, input=DEMO_PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    return path


def test_export_prints_the_warning_on_standard_error(home: Path) -> None:
    assert _export()[-4:] == ["--from", FULL[0], "--to", FULL[1]]
    empty = run([*_export()[:-4], "--from", EMPTY[0], "--to", EMPTY[1]], home)
    assert empty.exit_code == 0, empty.output
    assert empty.stdout == f"at,{LOAD}\n"  # the data: none
    (warning,) = [line for line in empty.stderr.splitlines() if "Warning" in line]
    assert warning.startswith("Warning: series[0] (") and "its data spans" in warning
    assert "0 points of 1 series" in empty.stderr
    full = run(_export(), home)
    assert full.exit_code == 0, full.output
    assert "Warning" not in full.stderr and full.stdout.count("\n") == 721
