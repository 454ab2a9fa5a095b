"""Workbook downloads (result.xlsx, the template): built on the `DOWNLOADS` threads, at most `MAX_IN_FLIGHT`
at once (past that 503 with Retry-After) and at most half of them for one tenant (past that 429 with Retry-After,
so that a tenant downloading many of its imports' workbooks at once never keeps the others out), and the bytes of
a finished import cached per (import, state, counters), so one tenant's repeated downloads cost one build and never
hold up anyone's upload."""

from __future__ import annotations

import asyncio
import functools
import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from services.ingest.application.workers import DOWNLOADS, run_in
from services.ingest.errors import ApiProblem

MAX_IN_FLIGHT = 4  # builds running or waiting for a thread; an identical download joins the one in flight
RETRY_AFTER_SECONDS = 5
MAX_CACHED_BYTES = 64 * 1024 * 1024


class WorkbookCache:
    """Built workbooks by key, least recently used dropped past `max_bytes`; concurrent requests for one key
    share one build. Lives on the event loop (no lock needed)."""

    def __init__(self, max_bytes: int = MAX_CACHED_BYTES, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.max_bytes, self.max_in_flight = max_bytes, max_in_flight
        self._done: OrderedDict[Hashable, bytes] = OrderedDict()
        self._building: dict[Hashable, asyncio.Future[bytes]] = {}
        self.in_flight = 0
        self.by_tenant: Counter[Hashable] = Counter()  # builds in flight started for each tenant
        self.share = math.ceil(max_in_flight / 2)

    def cached(self, key: Hashable | None) -> bytes | None:
        if key is None or key not in self._done:
            return None
        self._done.move_to_end(key)
        return self._done[key]

    async def get(
        self, key: Hashable | None, build: Callable[..., bytes], *args: Any, tenant: Hashable = None
    ) -> bytes:
        """The cached bytes of `key`, or `build(*args)` on a download thread (cached unless `key` is None), counted
        to `tenant`'s share (a request joining a build in flight takes none; None: no tenant's, the template)."""
        content = self.cached(key)
        if content is not None:
            return content
        if key is not None and key in self._building:
            return await asyncio.shield(self._building[key])
        if tenant is not None and self.by_tenant[tenant] >= self.share:
            raise ApiProblem(
                429,
                "Too many downloads of this tenant",
                f"this tenant already has {self.share} workbooks being built: try again in {RETRY_AFTER_SECONDS} s",
                "too_many_tenant_downloads",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        if self.in_flight >= self.max_in_flight:
            raise ApiProblem(
                503,
                "Too many downloads",
                f"{self.max_in_flight} workbooks are being built: try again in {RETRY_AFTER_SECONDS} s",
                "too_many_downloads",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        return await asyncio.shield(self._start(key, tenant, build, *args))

    def _start(
        self, key: Hashable | None, tenant: Hashable, build: Callable[..., bytes], *args: Any
    ) -> asyncio.Future[bytes]:
        """The build runs to its end even when the request that started it is gone (so `in_flight` counts the
        threads really busy); its bytes are kept when it succeeds."""
        self.in_flight += 1
        if tenant is not None:
            self.by_tenant[tenant] += 1
        future = asyncio.ensure_future(run_in(DOWNLOADS, build, *args))
        if key is not None:
            self._building[key] = future
        future.add_done_callback(functools.partial(self._finished, key, tenant))
        return future

    def _finished(self, key: Hashable | None, tenant: Hashable, future: asyncio.Future[bytes]) -> None:
        self.in_flight -= 1
        if tenant is not None:
            self.by_tenant[tenant] -= 1
            if not self.by_tenant[tenant]:
                del self.by_tenant[tenant]
        if key is None:
            return
        self._building.pop(key, None)
        if not future.cancelled() and future.exception() is None:
            self._keep(key, future.result())

    def _keep(self, key: Hashable, content: bytes) -> None:
        if len(content) > self.max_bytes:
            return
        self._done[key] = content
        while sum(map(len, self._done.values())) > self.max_bytes:
            self._done.popitem(last=False)


WORKBOOKS = WorkbookCache()
