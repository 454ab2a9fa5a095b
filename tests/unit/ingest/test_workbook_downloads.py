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


async def test_a_tenant_holding_its_share_of_the_builds_leaves_the_rest_to_others() -> None:
    """One tenant downloading its imports' workbooks in parallel held every build slot, and every other tenant's
    download was a 503 for as long as it kept on; now past half the slots it gets a 429 itself."""
    cache, release = WorkbookCache(max_in_flight=4), threading.Event()

    def build(name: str) -> bytes:
        release.wait(5)
        return name.encode()

    mine = [asyncio.create_task(cache.get(f"a{n}", build, f"a{n}", tenant="A")) for n in range(2)]
    joined = asyncio.create_task(cache.get("a0", build, "a0", tenant="A"))  # joins its own build: no slot
    await asyncio.sleep(0)
    with pytest.raises(ApiProblem) as refused:
        await cache.get("a2", build, "a2", tenant="A")
    assert refused.value.problem.status == 429 and refused.value.problem.code == "too_many_tenant_downloads"
    assert refused.value.headers == {"Retry-After": "5"}
    theirs = asyncio.create_task(cache.get("b0", build, "b0", tenant="B"))
    await asyncio.sleep(0)
    assert cache.in_flight == 3
    release.set()
    assert await asyncio.gather(*mine, joined, theirs) == [b"a0", b"a1", b"a0", b"b0"]
    assert cache.in_flight == 0 and not cache.by_tenant
    assert await cache.get("a2", build, "a2", tenant="A") == b"a2"  # given back
