"""The MQTT topics of sodata (README, "MQTT ingestion").

A device (or a gateway, for itself and its child devices) publishes to
`sodata/v1/{corporateAccountUuid}/devices/{serialNumber}/datapoints`, and may ask for the
answer on a topic under `sodata/v1/{corporateAccountUuid}/devices/{serialNumber}/answers/`
(its broker account may subscribe there, and only there)."""

from __future__ import annotations

import functools
import uuid
from typing import NamedTuple

ROOT = "sodata/v1"
DATAPOINTS = ROOT + "/+/devices/+/datapoints"  # the workers' subscription
ANSWERS = ROOT + "/+/devices/+/answers/#"  # where the workers answer


class DeviceTopic(NamedTuple):
    ca: uuid.UUID
    serial_number: str


def datapoints(ca: uuid.UUID | str, serial_number: str) -> str:
    return f"{ROOT}/{ca}/devices/{serial_number}/datapoints"


def answers(ca: uuid.UUID | str, serial_number: str) -> str:
    """The answer topics of a device (a filter: its broker account may subscribe to it)."""
    return f"{ROOT}/{ca}/devices/{serial_number}/answers/#"


def shared(group: str) -> str:
    """The workers' subscription, shared: each message goes to one worker of the group."""
    return f"$share/{group}/{DATAPOINTS}"


def publishable(serial_number: str) -> bool:
    """Whether a serial number can be a topic level (no /, + or #, no NUL, not empty)."""
    return bool(serial_number) and not any(c in serial_number for c in "/+#\0")


@functools.lru_cache(maxsize=100_000)  # a device publishes to the same topic
def parse(topic: str) -> DeviceTopic | None:
    """The account and serial number a datapoints topic names; None if it is not one."""
    parts = topic.split("/")
    if len(parts) != 6 or "/".join(parts[:2]) != ROOT or parts[3:6:2] != ["devices", "datapoints"]:
        return None
    try:
        return DeviceTopic(uuid.UUID(parts[2]), parts[4])
    except ValueError:
        return None
