"""sodata's connections to the broker (paho-mqtt 2, MQTT 5), from the settings."""

from __future__ import annotations

import paho.mqtt.client as mqtt

from sodata.config import Settings

KEEPALIVE = 30  # seconds: a broker gone is noticed within 1.5 times this


def client(settings: Settings, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    """A client with sodata's broker account and TLS settings (not connected yet)."""
    if settings.mqtt_host is None:
        raise ValueError("no broker: set SODATA_MQTT_HOST (README, MQTT ingestion)")
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.mqtt_username is not None:
        c.username_pw_set(settings.mqtt_username, settings.mqtt_password)
    if settings.mqtt_tls:
        c.tls_set(ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None)
    c.reconnect_delay_set(min_delay=1, max_delay=30)
    return c
