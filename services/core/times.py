"""The one time format users, integrators and subscribers read: RFC 3339 in UTC with `Z` (2026-11-30T06:00:00Z).

REST answers, event payloads and headers (`ce_time`) and the persona all use it; a file's wall-clock times are read
in the import's zone and stored as instants, so nothing is lost by answering in UTC. Convert to the tenant's zone for
display (the console shows China time).

Both formatters below write the text of `datetime.isoformat` (a test holds them to it over any instant), by orjson
when the time is in UTC: the consumer writes several times per order (events, personas, persona states), and
`isoformat` with its offset cost about five times as much.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson


def utc_text(value: datetime) -> str:
    """`value` (aware) as RFC 3339 in UTC with `Z`; microseconds only when present."""
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    if utc.__class__ is datetime:
        return orjson.dumps(utc, option=orjson.OPT_UTC_Z)[1:-1].decode()
    return utc.isoformat().replace("+00:00", "Z")  # a subclass: as it formats itself


def iso_text(value: datetime) -> str:
    """`value.isoformat()` (the stored form of a persona state's times, which are in UTC: `+00:00`)."""
    if value.tzinfo is UTC and value.__class__ is datetime:
        return orjson.dumps(value)[1:-1].decode()
    return value.isoformat()
