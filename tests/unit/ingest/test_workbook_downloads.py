"""Workbook downloads: one build per key however many ask at once, a bound on builds in flight (503 with
Retry-After past it), finished bytes cached within a byte budget (probe 4)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.ingest.application.downloads import WorkbookCache
from services.ingest.errors import ApiProblem


async def test_one_build_per_key_and_a_bound_on_builds_in_flight() -> None:
    cache, release, built = WorkbookCache(max_in_flight=2), threading.Event(), []

    def build(name: str) -> bytes:
        built.append(name)
        release.wait(5)
        return name.encode()

    same = [asyncio.create_task(cache.get("a", build, "a")) for _ in range(5)]
    other = asyncio.create_task(cache.get(None, build, "b"))
    await asyncio.sleep(0)
    with pytest.raises(ApiProblem) as refused:
        await cache.get("c", build, "c")
    assert refused.value.problem.status == 503 and refused.value.headers == {"Retry-After": "5"}
    release.set()
    assert await asyncio.gather(*same, other) == [b"a"] * 5 + [b"b"]
    assert sorted(built) == ["a", "b"]
    assert await cache.get("a", build, "a") == b"a" and sorted(built) == ["a", "b"]  # cached
    assert cache.cached(None) is None and cache.in_flight == 0


async def test_the_cache_keeps_the_most_recent_within_its_byte_budget() -> None:
    cache = WorkbookCache(max_bytes=10)
    for key in ("a", "b", "c"):
        await cache.get(key, lambda k: k.encode() * 4, key)
    assert cache.cached("a") is None and cache.cached("b") == b"bbbb" and cache.cached("c") == b"cccc"
    await cache.get("big", lambda: b"x" * 11)
    assert cache.cached("big") is None
