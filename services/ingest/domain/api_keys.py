"""API keys as the service understands them: scopes, names, rotation windows. Pure: no IO, no clock.

A key grants exactly the scopes it was given (they do not imply one another): `read` (orders, customers, imports),
`import` (upload and follow imports), `push` (`POST /v1/orders:batch`), `admin` (keys, dead letters, erasure).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum

MAX_KEY_NAME = 64
MAX_OVERLAP = timedelta(days=30)
DEFAULT_OVERLAP = timedelta(hours=24)


class Scope(StrEnum):
    READ = "read"
    IMPORT = "import"
    PUSH = "push"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)
DEFAULT_KEY_NAME = "default"  # the tenant's first key, with every scope


class KeyRequestError(ValueError):
    """A key request that cannot be honoured; the message says which field, what was found and what is expected."""


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """The scopes named (`"read"`, `"push"`...); at least one; an unknown name is refused, naming the known ones."""
    scopes = set()
    for name in names:
        cleaned = name.strip().lower()
        if cleaned not in {s.value for s in Scope}:
            known = ", ".join(s.value for s in Scope)
            raise KeyRequestError(f"scopes: {name!r} is not a scope; expected some of {known}")
        scopes.add(Scope(cleaned))
    if not scopes:
        raise KeyRequestError("scopes: at least one scope is needed (read, import, push, admin)")
    return frozenset(scopes)


def key_name(name: str) -> str:
    """A key's name as stored: stripped, 1 to 64 printable characters."""
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= MAX_KEY_NAME or not cleaned.isprintable():
        raise KeyRequestError(f"name: expected 1 to {MAX_KEY_NAME} printable characters, got {name[:80]!r}")
    return cleaned


def overlap(seconds: float) -> timedelta:
    """How long a rotated key keeps working beside its successor: 0 (at once) to 30 days."""
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_OVERLAP.total_seconds()):
        raise KeyRequestError(f"overlap: expected 0 to {MAX_OVERLAP.days} days in seconds, got {seconds:g}")
    return timedelta(seconds=seconds)


def sorted_scopes(scopes: Iterable[Scope]) -> list[str]:
    """Scopes in their canonical order (read, import, push, admin), as stored and shown."""
    chosen = set(scopes)
    return [s.value for s in Scope if s in chosen]


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_overlap(text: str) -> timedelta:
    """An overlap as an operator writes it: `90s`, `30m`, `24h`, `7d` or plain seconds; 0 to 30 days."""
    cleaned = text.strip().lower()
    unit = _UNITS.get(cleaned[-1:])
    number = cleaned[:-1] if unit else cleaned
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise KeyRequestError(f"overlap: expected e.g. 90s, 30m, 24h or 7d, got {text!r}") from None
    return overlap(seconds)
