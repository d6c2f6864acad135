from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.types import JsonObject, Str255

MAX_INDEX = 65535


def _index_not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError('must be an index such as "0" or 0')
    return value


# Item types appear in mapping configs ("Global|0|140100") and stream refs ("Global 0 140100"):
# no separators in them.
ItemType = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["Global"]),
]

# The spec sends indexes as strings ("0"); numbers are accepted too.
ItemIndex = Annotated[
    int,
    BeforeValidator(_index_not_bool),
    Field(ge=0, le=MAX_INDEX),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer", "minimum": 0}],
            "examples": ["0"],
            "description": f"Index of the item among the items of its type, from 0 to {MAX_INDEX}",
        }
    ),
]


class ItemPublic(CamelModel):
    uuid: uuid.UUID
    id: int
    device_uuid: uuid.UUID
    item_type: str
    index: str
    name: str | None
    custom: dict[str, Any] | None
    variables_quantity: int
    created_at: Timestamp


class ItemsList(CamelModel):
    results: list[ItemPublic]
    total: int


class ItemUpdate(WriteModel):
    read_only_from = (ItemPublic,)

    name: Str255 | None = None
    custom: JsonObject | None = None


class ItemCreate(ItemUpdate):
    item_type: ItemType
    index: ItemIndex
