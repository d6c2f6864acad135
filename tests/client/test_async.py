"""The asynchronous client: the same resources, awaited, on the same shared core."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from sodata.client import AsyncClient, Client, NotFound
from sodata.demo import ids
from tests.client.conftest import Recorder, demo_settings
from tests.conftest import Server

LOAD = "Global|0|140100"


def test_async_client_walks_the_spec(server: Server, sdk: Client) -> None:
    recorder = Recorder()

    async def main() -> tuple:
        http = httpx.AsyncClient(timeout=30, event_hooks={"response": [_async(recorder.response)]})
        async with AsyncClient(**demo_settings(server), http=http) as c:
            ca = await c.corporate_accounts.find("SoLink")
            pager = c.devices.list(ca, page_size=10)
            devices = await pager.to_list()
            dev = await c.devices.find(ca, serial_number=ids.DELPHYS_SERIAL)
            data = await c.datapoints.query(
                ca, dev, LOAD, "2022-05-18", "2022-05-19", page_size=250
            )
            variables = await c.variables.list(ca, dev)
            last = await c.last_values.get(ca, dev)
            with pytest.raises(NotFound):
                await c.devices.find(ca, serial_number="NOPE")
            # a refused token: renewed once, the call retried
            c._tokens.tokens.access_token = "not.a.token"
            c._tokens.tokens.access_expires_at = time.time() + 3600
            again = await c.corporate_accounts.get(ca)
        await http.aclose()
        return ca, pager, devices, dev, data, variables, last, again

    ca, pager, devices, dev, data, variables, last, again = asyncio.run(main())
    assert ca.uuid == ids.SOLINK and again.uuid == ids.SOLINK
    assert len(devices) == pager.total == sdk.devices.list(ids.SOLINK).count()
    assert len({d.uuid for d in devices}) == len(devices)
    assert dev.uuid == ids.DELPHYS_GP2
    same = sdk.datapoints.query(ids.SOLINK, ids.DELPHYS_GP2, LOAD, "2022-05-18", "2022-05-19")
    assert data.pages == 3 and data[0].at == same[0].at and data[0].values == same[0].values
    assert LOAD in {v.mapping_config for v in variables} and last
    statuses = [s for _, p, _, s in recorder.exchanges if p.startswith("/api/")]
    assert statuses.count(401) == 1 and recorder.grants() == ["password", "refresh_token"]


def _async(hook):
    async def call(response: httpx.Response) -> None:
        hook(response)

    return call
