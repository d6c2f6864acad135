from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.types import JsonObject, Str255, WholeNumberAsText

MAX_INDEX = 65535


def _index_of_digits(value: Any) -> Any:
    """The index of its digits ("0" -> 0); no sign, spaces or decimals."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]{1,9}", value):
            raise PydanticCustomError(
                "item_index",
                'must be an index from 0 to {max}, such as "0" or 0',
                {"max": MAX_INDEX},
            )
        return int(value)
    return value


# Item types appear in mapping configs ("Global|0|140100") and stream refs ("Global 0 140100"):
# no separators in them.
ItemType = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["Global"]),
]

# The spec sends indexes as strings ("0"); whole numbers are accepted too (WholeNumberAsText,
# which runs first, refuses booleans, floats and negative numbers).
ItemIndex = Annotated[
    int,
    BeforeValidator(_index_of_digits),
    Field(ge=0, le=MAX_INDEX),
    WholeNumberAsText,
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
