"""One value per query parameter, except those the routes take as lists (`query_strings.REPEATABLE`)."""

from __future__ import annotations

from typing import Any

import pytest

from services.ingest.entrypoints.http.query_strings import API_PREFIX, REPEATABLE, repeated_parameters
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings


def _is_list(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "array" or any(_is_list(s) for s in schema.get("anyOf", ()))


def test_the_repeatable_parameters_are_exactly_the_list_parameters_of_the_api() -> None:
    spec = create_app(IngestSettings()).openapi()
    lists = {
        parameter["name"]
        for path, operations in spec["paths"].items()
        if path.startswith(API_PREFIX)
        for operation in operations.values()
        for parameter in operation.get("parameters", ())
        if parameter["in"] == "query" and _is_list(parameter["schema"])
    }
    assert lists == REPEATABLE


@pytest.mark.parametrize(
    ("query", "repeated"),
    [
        ("", []),
        ("a=1&b=2", []),
        ("status=paid&status=shipped", []),
        ("a=1&a=2&b=3&b=&c=1", ["a", "b"]),
        ("a&a", ["a"]),
        ("%61=1&a=2", ["a"]),  # as the framework decodes them
    ],
)
def test_repeated_parameters_are_named_in_their_order(query: str, repeated: list[str]) -> None:
    assert repeated_parameters(query) == repeated
