"""Message keys: the partition key of every record about one order (or one customer), on every topic.

One order's records share one key, so they stay on one partition in the order they were written: the ingest
messages, the order events and the outbox rows (which the relay publishes under the same key).
"""

from __future__ import annotations

import functools
from uuid import UUID

# A tenant's ID spelled as text (`str`), remembered: it names every key, event id and header of its orders, and
# `UUID.__str__` (Python) cost a microsecond and more each time. Bounded, for a process that sees many tenants.
uuid_text = functools.lru_cache(maxsize=4096)(str)


def order_key(tenant_id: UUID | str, order_no: str) -> str:
    """`"{tenant_id}:{order_no}"`: the key of an order's ingest messages and of its events."""
    return f"{tenant_id}:{order_no}"


def customer_key(tenant_id: UUID | str, customer_id: UUID | str) -> str:
    """`"{tenant_id}:{customer_id}"`: the key of a customer's `customers.updated.v1` records (compacted per key)."""
    return f"{tenant_id}:{customer_id}"
