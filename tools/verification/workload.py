"""What a scenario feeds in: a tenant, an import job and one `orders.ingest.v1` message per order (plus, for some
scenarios, records that must be dead-lettered). Deterministic, so the expected end state is known in advance."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer

from services.core.order import OrderStatus
from services.ingest.adapters.import_jobs import NewImport, queued_rows, record_import
from services.ingest.adapters.tenants import create_tenant
from services.ingest.contracts.orders_ingest_v1 import TOPIC, OrderIngestV1, message_key
from services.platform.settings import ConnectionSettings

SHANGHAI = timezone(timedelta(hours=8))
STATUSES = (OrderStatus.PAID, OrderStatus.TO_BE_PAID, OrderStatus.SHIPPED, OrderStatus.DEALED, OrderStatus.DEAL_CLOSED)
Conn = Any


@dataclass(frozen=True)
class RawRecord:
    """A record sent as bytes, as a foreign producer might: it may break the contract."""

    key: bytes | None
    value: bytes
    reason: str  # the dead-letter reason code it must get
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Workload:
    tenant_id: UUID
    import_id: UUID
    orders: list[OrderIngestV1]
    poison: list[RawRecord] = field(default_factory=list)
    poison_counted: int = 0  # poison records that name this import and an order no.: the import counts them

    @property
    def customers(self) -> Counter[str]:
        """Orders per buyer mobile."""
        return Counter(o.buyer.mobile or "" for o in self.orders)


def order_message(tenant_id: UUID, import_id: UUID | None, i: int, customers: int, tag: str = "V") -> OrderIngestV1:
    status = STATUSES[i % len(STATUSES)]
    lines = [
        {
            "product_id": f"P{(i + k) % 40:03d}",
            "sku": f"S{k}",
            "product_name": f"Product {k}",
            "quantity": 1 + (i + k) % 3,
            "unit_price": Decimal(f"{10 + k}.50"),
        }
        for k in range(1 + i % 3)
    ]
    paid = status not in (OrderStatus.TO_BE_PAID, OrderStatus.DEAL_CLOSED)
    ordered = datetime(2026, 3, 1, 10, 0, tzinfo=SHANGHAI) + timedelta(minutes=i)
    return OrderIngestV1.model_validate(
        {
            "tenant_id": tenant_id,
            "import_id": import_id,
            "order_no": f"{tag}{i:06d}",
            "source": "youzan",
            "status": status,
            "status_raw": status.value,
            "order_time": ordered,
            "payment_time": ordered + timedelta(minutes=1) if paid else None,
            "store": {"store_no": f"S{i % 4}", "name": f"Store {i % 4}"},
            "buyer": {"mobile": f"139{i % customers:08d}"},
            "lines": lines,
        }
    )


async def new_tenant(conn: Conn, name: str) -> UUID:
    tenant, _ = await create_tenant(conn, name)
    return tenant.id


async def prepare(conn: Conn, name: str, n_orders: int, customers: int, tag: str = "V") -> Workload:
    """A tenant of its own, an import job expecting `n_orders`, and the messages of that import."""
    tenant_id, import_id = await new_tenant(conn, name), uuid.uuid4()
    orders = [order_message(tenant_id, import_id, i, customers, tag) for i in range(n_orders)]
    await record_job(conn, tenant_id, import_id, [o.order_no for o in orders])
    return Workload(tenant_id, import_id, orders)


async def record_job(conn: Conn, tenant_id: UUID, import_id: UUID, order_nos: Sequence[str]) -> None:
    """An import job that published exactly `order_nos` (one queued row each)."""
    orders = len(order_nos)
    job = NewImport(
        tenant_id, import_id, "verify.xlsx", "partial", "Asia/Shanghai", orders, orders, 0, orders, 0, [], []
    )
    await record_import(conn, job, queued_rows(order_nos))


async def publish(
    settings: ConnectionSettings,
    orders: Sequence[OrderIngestV1],
    raw: Sequence[RawRecord] = (),
    headers: Sequence[tuple[str, bytes]] = (),
) -> None:
    """Send every order (with `headers`), then every raw record (with its own), each with its key (idempotent
    producer, acks=all), and wait for all acknowledgements."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True, linger_ms=5
    )
    topic = settings.topic(TOPIC.name)
    await producer.start()
    try:
        sends = [
            await producer.send(
                topic, m.model_dump_json().encode(), key=message_key(m.tenant_id, m.order_no), headers=list(headers)
            )
            for m in orders
        ]
        sends += [await producer.send(topic, r.value, key=r.key, headers=list(r.headers)) for r in raw]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
