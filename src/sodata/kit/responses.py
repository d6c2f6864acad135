"""Serialize answers straight to JSON bytes (one pass, no re-validation)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response
from pydantic import BaseModel


def json_response(model: BaseModel, status_code: int = 200, exclude: Any = None) -> Response:
    return Response(
        model.model_dump_json(by_alias=True, exclude=exclude),
        status_code=status_code,
        media_type="application/json",
    )


def json_body(body: Any) -> Response:
    """Plain dicts and lists built column-wise (datapoints, last values) as JSON, by orjson."""
    return Response(orjson.dumps(body), media_type="application/json")


def exclude_nested(wanted: frozenset[str], nested: dict[str, str], in_page: bool = False) -> Any:
    """The `exclude` argument that drops the nested objects the caller did not ask for.

    `nested` maps a detail name ("contact", "address") to the field that holds it.
    """
    dropped = {field for name, field in nested.items() if name not in wanted}
    if not dropped:
        return None
    return {"results": {"__all__": dropped}} if in_page else dropped
