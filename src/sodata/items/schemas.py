from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from sodata.kit.schemas import CamelModel, Timestamp, WriteModel
from sodata.kit.types import JsonObject, Str255, whole_number_as_text

MAX_INDEX = 65535


def _index_of_digits(value: Any) -> int:
    """The index a string of digits or a whole number names ("0" or 0 -> 0); no sign, spaces
    or decimals, no boolean or float."""
    text = whole_number_as_text(value)
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise PydanticCustomError(
            "item_index", 'must be an index from 0 to {max}, such as "0" or 0', {"max": MAX_INDEX}
        )
    return int(text)


# Item types appear in mapping configs ("Global|0|140100") and stream refs ("Global 0 140100"):
# no separators in them.
ItemType = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", examples=["Global"]),
]

# The spec sends indexes as strings ("0"); whole numbers are accepted too.
ItemIndex = Annotated[
    int,
    BeforeValidator(_index_of_digits),
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
    uuid: UUID
    id: int
    device_uuid: UUID
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
