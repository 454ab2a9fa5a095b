"""The import list's page links: a cursor of `encode_position` reads back; anything else (garbled or forged) is
None, which the console words as an invalid link and answers with the first page."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from services.ingest.adapters.queries import ImportPosition
from services.ingest.application.import_answers import decode_position, encode_position


def _forged(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def test_a_cursor_reads_back() -> None:
    position = ImportPosition(datetime(2026, 12, 4, 8, 30, tzinfo=UTC), uuid.uuid4())
    assert decode_position(encode_position(position)) == position


ZERO = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "raw",
    [
        {"t": "2026-01-01T00:00:00+00:00", "i": 5},  # UUID(5): AttributeError, a 500
        {"t": "2026-01-01T00:00:00+00:00", "i": None},
        {"t": "0001-01-01T00:00:00+05:00", "i": ZERO},  # year 0 in UTC: asyncpg's OverflowError, a 500
        {"t": "9999-12-31T23:59:59-05:00", "i": ZERO},  # year 10000 in UTC
        {"t": "2026-01-01T00:00:00", "i": ZERO},  # no offset
        {"t": 5, "i": ZERO},
        [1],
        "x",
    ],
)
def test_a_forged_cursor_is_none(raw: object) -> None:
    assert decode_position(_forged(raw)) is None


@pytest.mark.parametrize("cursor", ["\x00", "é", "\udc80", "!!!!", "e30"])
def test_a_garbled_cursor_is_none(cursor: str) -> None:
    assert decode_position(cursor) is None
