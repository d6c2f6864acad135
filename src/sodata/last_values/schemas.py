"""Last values on the wire (spec 5.9.3)."""

from __future__ import annotations

import uuid

from pydantic import Field

from sodata.kit.schemas import CamelModel, WriteModel

MAX_DEVICES = 1000


class LastValuesQuery(WriteModel):
    device_uuids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_DEVICES)


class LastValue(CamelModel):
    service_id: str = Field(examples=["140108"])
    item_type: str = Field(examples=["Global"])
    item_index: str = Field(examples=["0"])
    device_uuid: uuid.UUID
    value: str = Field(description="The value as text", examples=["18"])
    date: str = Field(examples=["2022-07-28T11:19:25.000Z"])
    title: str = Field(examples=["Ups output current L3"])
    unit: str | None = Field(examples=["AMPERE"])
    device_name: str = Field(examples=["Delphys GP2 - 160 kVA"])
    item_name: str = Field(examples=["Global"])
    service_group: str = Field(examples=["Output"])
    service_type: str = Field(examples=["Measure"])


class DeviceLastValues(CamelModel):
    device_uuid: uuid.UUID
    values: list[LastValue]


class LastValuesAnswer(CamelModel):
    devices: list[DeviceLastValues]
