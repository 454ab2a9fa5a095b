"""Waiting on conditions with deadlines (never fixed sleeps): the scenarios' own `eventually`, with test defaults."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tools.verification.checks import eventually as _eventually

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 30.0, interval: float = 0.1
) -> T:
    """Poll `probe` until `done(value)`; fail (an AssertionError) with the last value after `within` seconds."""
    return await _eventually(probe, done, within, "condition", interval)
