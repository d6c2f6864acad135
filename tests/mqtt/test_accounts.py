"""The gateways' broker accounts while the broker is down: a client that would need one is not
created (503), a secret that the broker did not take is not changed (503), and an account whose
client was deleted meanwhile is removed by `sodata mqtt`'s reconciliation once it is back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from sodata.demo.ids import ADMIN_EMAIL, SOLINK
from tests.conftest import BACKENDS, Server, client_as, unique
from tests.mqtt.conftest import Broker, Device, Workers, create_gateway_client, gateway_serial

pytestmark = pytest.mark.scenario


def _token(server: Server, client_id: str, secret: str) -> int:
    return httpx.post(
        f"{server.url}/realms/sodata/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    ).status_code


@pytest.mark.parametrize("backend", BACKENDS)
def test_accounts_while_the_broker_is_down(backend: str, tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    server = Server(backend, tmp_path, env=broker.env())
    try:
        api = client_as(server, ADMIN_EMAIL)
        serial = gateway_serial(api)
        kept, gone = create_gateway_client(api).json(), create_gateway_client(api).json()
        broker.stop(for_good=False)

        refused_id = unique("gw").replace(" ", "-")
        refused = create_gateway_client(api, client_id=refused_id)
        assert refused.status_code == 503, refused.text
        assert "MQTT broker" in refused.json()["message"]
        listed = api.get(f"/api/v1/ca/{SOLINK}/clients", params={"take": 1000}).json()["results"]
        names = {c["clientId"] for c in listed}
        assert refused_id not in names and {kept["clientId"], gone["clientId"]} <= names

        secret = api.put(f"/api/v1/ca/{SOLINK}/clients/{kept['uuid']}/secret")
        assert secret.status_code == 503, secret.text
        assert _token(server, kept["clientId"], kept["clientSecret"]) == 200  # unchanged

        # a deletion needs no secret: it is done, and the broker catches up later
        assert api.delete(f"/api/v1/ca/{SOLINK}/clients/{gone['uuid']}").status_code == 204
        # a client that needs no broker account is created as ever
        plain = api.post(
            f"/api/v1/ca/{SOLINK}/clients",
            json={"clientId": unique("app").replace(" ", "-"), "role": "viewer"},
        )
        assert plain.status_code == 201, plain.text

        broker.start()

        def refused_by_broker(client: dict) -> str | None:
            device = Device(broker, client["clientId"], client["clientSecret"], str(SOLINK), serial)
            device.close()
            return device.refused

        assert refused_by_broker(kept) is None
        assert refused_by_broker(gone) is None  # still there: nobody told the broker yet
        workers = Workers(server, broker, tmp_path)  # reconciles at its start
        try:
            deadline = time.monotonic() + 15
            while refused_by_broker(gone) is None and time.monotonic() < deadline:
                time.sleep(0.3)
            assert refused_by_broker(gone) is not None
            assert refused_by_broker(kept) is None
        finally:
            workers.stop()
    finally:
        server.stop()
        broker.stop()
