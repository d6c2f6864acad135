"""Bounded wire types of the request bodies.

Each string fits the column it is stored in and no value reaches the database that the
database would refuse (PostgreSQL rejects NUL characters in text and NaN in JSON), so bad
input is a 400 naming the field on every backend rather than a database error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 64 * 1024


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "NUL characters are not allowed")
    return value


NoNul = AfterValidator(_no_nul)

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), NoNul]
Serial = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
Str32 = Annotated[str, StringConstraints(max_length=32), NoNul]
Str64 = Annotated[str, StringConstraints(max_length=64), NoNul]
Str255 = Annotated[str, StringConstraints(max_length=255), NoNul]
Text = Annotated[str, StringConstraints(max_length=4000), NoNul]


class Listed:
    """Annotated metadata of an optional string (`str | None`): the JSON schema declares the
    string as one of `values` (an enum), and nothing else about it; the endpoint checks it
    itself, with a message naming them, and may take other spellings too (lower case, "+name")."""

    def __init__(self, values: Iterable[str]) -> None:
        self.values = list(values)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        for branch in json_schema.get("anyOf", ()):
            if branch.get("type") == "string":
                branch.clear()
                branch.update(type="string", enum=list(self.values))
        return json_schema


def whole_number_as_text(value: Any) -> str:
    """A string as sent, or a JSON integer of 0 or more as its digits (140100 -> "140100").

    Booleans, floats (0.5, 1e3), negative numbers and anything else are refused."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    raise PydanticCustomError(
        "whole_number_or_text",
        'must be a string or a whole number of 0 or more, such as "0" or 0',
    )


class _WholeNumberAsText:
    """Validation: `whole_number_as_text` first, then the annotated string type with its
    constraints. JSON schema: that string type or a non-negative integer."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(whole_number_as_text, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        inner = handler(schema["schema"])
        return {"anyOf": [inner, {"type": "integer", "minimum": 0}]}


WholeNumberAsText = _WholeNumberAsText()
"""Put last in an `Annotated[str, ...]`: the field also takes a JSON integer, as its digits.
For the names the spec writes as numeric strings ("itemIndex": "0", "serviceId": "140100")
that clients often send as numbers."""


def _json_path(path: str, key: object) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else str(key)


def _check_json_text(text: str, where: str) -> None:
    """A string or key the database stores and the answer can encode again."""
    if "\x00" in text:
        raise PydanticCustomError(
            "nul_character", "NUL characters are not allowed ({where})", {"where": where}
        )
    try:
        text.encode()
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "string_unicode", "strings must be valid Unicode ({where})", {"where": where}
        ) from None


def _check_json_object(value: dict[str, Any]) -> dict[str, Any]:
    """Walks the object without recursion, so a deeply nested one is refused, not a crash."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise PydanticCustomError(
                    "json_too_deep",
                    "nested deeper than {limit} levels at {path}; flatten the object",
                    {"limit": MAX_JSON_DEPTH, "path": path},
                )
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str):
                    _check_json_text(key, f"in a key at {path or 'the top level'}")
                stack.append((child, depth + 1, _json_path(path, key)))
        elif isinstance(node, float) and not math.isfinite(node):
            raise PydanticCustomError(
                "json_not_finite",
                "numbers must be finite; NaN and Infinity are not allowed (at {path})",
                {"path": path},
            )
        elif isinstance(node, str):
            _check_json_text(node, f"at {path}")
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_JSON_BYTES:
        raise PydanticCustomError(
            "json_too_large",
            "is {size} bytes as JSON, larger than the limit of {limit} KiB; send a smaller object",
            {"size": size, "limit": MAX_JSON_BYTES // 1024},
        )
    return value


JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_check_json_object),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": True,
            "description": f"A free-form JSON object: finite numbers, nested at most "
            f"{MAX_JSON_DEPTH} levels deep, at most {MAX_JSON_BYTES // 1024} KiB as JSON",
        }
    ),
]
"""A free-form JSON object (custom data, configuration options) the database can store."""
