"""Broker accounts given a password again and again (a gateway client's secret regenerated)
leave the broker running, and the last password is the one that opens it.

Mosquitto crashes on deleting a client whose role was deleted before it (2.0.11 here; eclipse/
mosquitto issue 2660): sodata deletes an account's client before its role. Against a private
broker, without a server."""

from __future__ import annotations

import uuid
from pathlib import Path

from sodata.mqtt.dynsec import DynamicSecurity, GatewayAccount
from tests.mqtt.conftest import Broker, Device

ACCOUNTS = 10
ROUNDS = 4  # the broker crashed in the second round with the role deleted first


def test_accounts_put_again_and_again_keep_the_broker_up(tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    try:
        dynsec = DynamicSecurity(broker.settings())
        ca = uuid.uuid4()
        accounts = [GatewayAccount(f"gw-{i}", ca, f"SN{i}") for i in range(ACCOUNTS)]
        for round_ in range(ROUNDS):
            for account in accounts:
                dynsec.put(account, f"secret-{round_}")
        assert broker.process.poll() is None, broker.log_path.read_text()[-2000:]

        def refused(password: str) -> str | None:
            device = Device(broker, accounts[0].username, password, str(ca), "SN0")
            device.close()
            return device.refused

        assert refused(f"secret-{ROUNDS - 1}") is None
        assert refused(f"secret-{ROUNDS - 2}") is not None
    finally:
        broker.stop()
