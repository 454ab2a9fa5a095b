"""Builders of orders and ingest messages for tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.ingest.application.ingestion import Received
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1, message_key

SHANGHAI = timezone(timedelta(hours=8))


def line(product_id: str = "P1", sku: str = "", quantity: int = 1, price: str = "10.00", **kw: Any) -> dict[str, Any]:
    return {"product_id": product_id, "sku": sku, "quantity": quantity, "unit_price": Decimal(price), **kw}


def message(
    tenant_id: UUID,
    order_no: str,
    *,
    status: str = "paid",
    lines: list[dict[str, Any]] | None = None,
    buyer: dict[str, Any] | None = None,
    import_id: UUID | None = None,
    **kw: Any,
) -> OrderIngestV1:
    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "import_id": import_id,
        "order_no": order_no,
        "source": "youzan",
        "status": status,
        "status_raw": status,
        "order_time": datetime(2026, 11, 1, 10, 0, tzinfo=SHANGHAI),
        "store": {"store_no": "S1", "name": "Flagship"},
        "buyer": buyer or {"mobile": "13912345678"},
        "lines": lines or [line()],
    }
    fields.update(kw)
    return OrderIngestV1.model_validate(fields)


_offsets = itertools.count()


def received(*messages: OrderIngestV1 | bytes) -> list[Received]:
    """`messages` as consumed records of orders.ingest.v1, at offsets not used before in this process (raw bytes: a
    record without a key)."""
    out = []
    for ref, m in enumerate(messages):
        if isinstance(m, bytes):
            out.append(Received(ref, "orders.ingest.v1", 0, next(_offsets), None, m))
        else:
            key = message_key(m.tenant_id, m.order_no)
            out.append(Received(ref, "orders.ingest.v1", 0, next(_offsets), key, m.model_dump_json().encode()))
    return out
