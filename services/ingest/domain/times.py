"""The one time format users, integrators and subscribers read: RFC 3339 in UTC with `Z` (2026-11-30T06:00:00Z).

REST answers, event payloads and headers (`ce_time`) and the persona all use it; a file's wall-clock times are read
in the import's zone and stored as instants, so nothing is lost by answering in UTC. Convert to the tenant's zone for
display (the console shows China time).
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(value: datetime) -> str:
    """`value` (aware) as RFC 3339 in UTC with `Z`; microseconds only when present."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
