"""What an upload needs from the process, whichever edge takes it (the API's `POST /v1/imports` or the console):
one of the upload slots, and the publisher of its orders.

The slots bound the CPU and memory uploads cost whatever the number of clients: a tenant may hold only its share
(past it 429), the server only so many (past them 503), both with Retry-After, so no tenant can keep the others
out. The HTTP edge takes a slot from the request head (`entrypoints/http/limits.UploadGate`), the console around
its preview and confirmation.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from services.ingest.application.imports import Publish, publishing_to
from services.ingest.application.parsing import ImportOptions
from services.ingest.contracts.orders_ingest_v1 import TOPIC
from services.ingest.errors import ApiProblem
from services.ingest.settings import IngestSettings
from services.platform.publisher import KeyedPublisher


@dataclass
class Slots:
    """How many uploads (or exports: `noun`) may be handled at once, in all and per tenant; the counters live on
    the event loop (no lock needed). A tenant holding its share (`per_tenant`, at most half the slots by default)
    leaves the rest to others."""

    limit: int
    retry_after_seconds: int
    per_tenant: int | None = None  # None: half the slots, rounded up
    in_flight: int = 0
    by_tenant: Counter[Hashable] = field(default_factory=Counter)
    noun: str = "uploads"  # in the refusals' codes (`too_many_tenant_uploads`, `too_many_uploads`) and words

    @property
    def share(self) -> int:
        return min(self.limit, self.per_tenant or math.ceil(self.limit / 2))

    def take(self, tenant: Hashable) -> None:
        """One slot for `tenant`; its share taken: 429, none left: 503 (both with Retry-After)."""
        retry, noun = {"Retry-After": str(self.retry_after_seconds)}, self.noun
        if self.by_tenant[tenant] >= self.share:
            detail = f"this tenant already has {self.share} {noun} in flight: try again in {self.retry_after_seconds} s"
            title = f"Too many {noun} of this tenant"
            raise ApiProblem(429, title, detail, f"too_many_tenant_{noun}", headers=retry)
        if self.in_flight >= self.limit:
            detail = f"{self.limit} {noun} are being handled: try again in {self.retry_after_seconds} s"
            raise ApiProblem(503, f"Too many {noun}", detail, f"too_many_{noun}", headers=retry)
        self.in_flight += 1
        self.by_tenant[tenant] += 1

    def give_back(self, tenant: Hashable) -> None:
        self.in_flight -= 1
        self.by_tenant[tenant] -= 1
        if not self.by_tenant[tenant]:
            del self.by_tenant[tenant]


def order_publishing(settings: IngestSettings, broker: Any) -> Publish:
    """Publishing an upload's orders to `orders.ingest.v1` (with the settings' prefix), through the one keyed
    publisher over `broker` (taken per request: the broker exists once the app's lifespan started it)."""
    return publishing_to(KeyedPublisher.on_broker(broker), settings.topic(TOPIC.name))


def import_options(settings: IngestSettings) -> ImportOptions:
    return ImportOptions(
        max_rows=settings.max_rows,
        max_bytes=settings.max_upload_bytes,
        placeholder_mobiles=frozenset(settings.mobile_placeholders),
    )
