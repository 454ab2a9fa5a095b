"""Quotas and rate limits per tenant, answered 429 with Retry-After and counted on `/metrics`.

- Pushed orders per second (`POST /v1/orders:batch`): a token bucket per tenant in this process (each API process
  limits on its own: with N processes a tenant gets up to N times the rate). Every order of a push is charged,
  valid or not; an idempotent replay is not (it publishes nothing).
- Rows per hour of imports: read from the tenant's imports recorded in the last hour (PostgreSQL, so every process
  agrees and a restart forgets nothing); checked from the upload's request head, before its body is read: an
  upload is admitted while the tenant is under its quota (its own rows may take it over; dry runs are not counted).
- Uploads in flight per tenant and in all: `application.uploads.Slots`.

Settings give the defaults; a tenant's overrides (`tenants.push_orders_per_second`, `import_rows_per_hour`, set with
`orderinfo tenant quotas`) win. Metric labels are bounded: the quota's name only, never the tenant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prometheus_client import CollectorRegistry, Counter

from services.ingest.adapters import sql
from services.ingest.adapters.tenants import Tenant
from services.ingest.domain.push import LINES_PER_CHARGE, MAX_ORDERS
from services.ingest.domain.quotas import TokenBucket, retry_after
from services.ingest.errors import ApiProblem

PUSH_ORDERS = "push_orders_per_second"
IMPORT_ROWS = "import_rows_per_hour"
UPLOADS_PER_TENANT = "uploads_per_tenant"
UPLOADS_IN_FLIGHT = "uploads_in_flight"
QUOTAS = (PUSH_ORDERS, IMPORT_ROWS, UPLOADS_PER_TENANT, UPLOADS_IN_FLIGHT)
MAX_BUCKETS = 10_000  # tenants with a bucket in memory; full buckets are dropped past it (they hold no state)


class QuotaMetrics:
    def __init__(self, registry: CollectorRegistry | None, namespace: str = "orderinfo") -> None:
        self.refusals = Counter(
            "quota_refusals",
            "Requests refused by a quota or rate limit (429/503), by quota",
            ["quota"],
            namespace=namespace,
            registry=registry,
        )
        self.pushed = Counter(
            "pushed_orders",
            "Orders of POST /v1/orders:batch, by outcome",
            ["outcome"],
            namespace=namespace,
            registry=registry,
        )
        for quota in QUOTAS:
            self.refusals.labels(quota)
        for outcome in ("accepted", "rejected"):
            self.pushed.labels(outcome)


class Quotas:
    """The quota checks of one API process."""

    def __init__(
        self,
        push_orders_per_second: float,
        import_rows_per_hour: int,
        metrics: QuotaMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.push_rate, self.rows_per_hour, self.metrics, self.clock = (
            push_orders_per_second,
            import_rows_per_hour,
            metrics,
            clock,
        )
        self.buckets: dict[UUID, TokenBucket] = {}

    def admit_push(self, tenant: Tenant, orders: int) -> None:
        """Charge `orders` to the tenant's bucket, or 429 with Retry-After (nothing charged)."""
        rate = float(tenant.quotas.push_orders_per_second or self.push_rate)
        now = self.clock()
        bucket = self.buckets.get(tenant.id)
        if bucket is None or bucket.rate != rate:
            self._make_room(now)
            bucket = self.buckets[tenant.id] = TokenBucket.full(rate, max(rate, MAX_ORDERS), now)
        wait = bucket.take(orders, now)
        if wait:
            seconds = retry_after(wait)
            detail = (
                f"this tenant may push {rate:g} orders per second (an order of more than {LINES_PER_CHARGE} lines"
                f" counts once per {LINES_PER_CHARGE} lines): try again in {seconds} s"
            )
            raise self.refuse(
                PUSH_ORDERS,
                ApiProblem(
                    429, "Too many pushed orders", detail, "rate_limited", headers={"Retry-After": str(seconds)}
                ),
            )

    async def admit_upload(self, conn: Any, tenant: Tenant) -> None:
        """429 with Retry-After when the tenant's imports of the last hour reached its rows per hour."""
        limit = tenant.quotas.import_rows_per_hour or self.rows_per_hour
        found = await conn.fetchrow(sql.IMPORT_ROWS_LAST_HOUR, tenant.id)
        if found["rows"] < limit:
            return
        seconds = retry_after(float(found["frees_in"] or 1))
        detail = (
            f"this tenant imported {found['rows']:,} rows in the last hour, its quota is {limit:,}: "
            f"try again in {seconds} s"
        )
        raise self.refuse(
            IMPORT_ROWS,
            ApiProblem(429, "Import quota reached", detail, "quota_exceeded", headers={"Retry-After": str(seconds)}),
        )

    def refuse(self, quota: str, problem: ApiProblem) -> ApiProblem:
        self.metrics.refusals.labels(quota).inc()
        return problem

    def _make_room(self, now: float) -> None:
        if len(self.buckets) >= MAX_BUCKETS:
            for tenant_id in [t for t, b in self.buckets.items() if b.is_full(now)]:
                del self.buckets[tenant_id]
