"""Every free-text query parameter of the API has a documented length limit that the server
enforces: a fuzzer's 60,000-character `search` once made SQLite fail ("LIKE or GLOB pattern
too complex") with a 500."""

from __future__ import annotations

import re

import httpx
import pytest

from sodata.kit.db import MAX_FILTER_LENGTH
from tests import factories


def _string_schema(schema: dict) -> dict | None:
    """The schema of a plain (optional) string: no enum, no format such as uuid."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string" and "enum" not in option and "format" not in option:
            return option
    return None


@pytest.fixture(scope="module")
def text_filters(anonymous: httpx.Client) -> list[tuple[str, str, dict]]:
    """(path, parameter, its string schema) of every GET under /api/v1."""
    paths = anonymous.get("/swagger-api-json/v1").json()["paths"]
    return [
        (path, param["name"], schema)
        for path, operations in paths.items()
        if path.startswith("/api/v1/") and "get" in operations
        for param in operations["get"].get("parameters", [])
        if param["in"] == "query" and (schema := _string_schema(param["schema"])) is not None
    ]


def test_every_text_query_parameter_is_bounded(text_filters: list) -> None:
    names = {(path.rsplit("/", 1)[-1], name) for path, name, _ in text_filters}
    assert {("logs", "search"), ("data-access-groups", "name")} <= names
    for path, name, schema in text_filters:
        assert 0 < schema.get("maxLength", 0) <= MAX_FILTER_LENGTH, (path, name)


def test_too_long_filters_are_refused_and_long_ones_answered(
    api: httpx.Client, text_filters: list
) -> None:
    ca = factories.corporate_account(api)["uuid"]
    checked = 0
    for path, name, schema in text_filters:
        if set(re.findall(r"{(\w+)}", path)) - {"corporateAccountUuid"}:
            continue
        url = path.replace("{corporateAccountUuid}", ca)
        limit = schema["maxLength"]
        refused = api.get(url, params={name: "a" * (limit + 1)})
        assert refused.status_code == 400, (path, name, refused.text)
        assert refused.json()["message"].startswith(f"{name}: "), refused.text
        # the longest accepted value, full of LIKE wildcards, is an ordinary filter
        answered = api.get(url, params={name: ("%_\\" * limit)[:limit]})
        assert answered.status_code in (200, 400), (path, name, answered.text)
        # a fuzzer's value (as long as uvicorn's h11 lets through; with httptools 60,000
        # characters get through too): refused before any database sees it
        huge = api.get(url, params={name: "a_" * 6_000})
        assert huge.status_code == 400 and huge.json()["message"].startswith(f"{name}: ")
        checked += 1
    assert checked >= 8
