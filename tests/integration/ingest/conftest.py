from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from services.core.changes import CustomerSnapshot, OrderChange
from services.ingest.adapters.tenants import create_tenant


class RecordingEmitter:
    """Records what ingestion would hand to the rules bridge (a fake that records, not a mock)."""

    def __init__(self) -> None:
        self.changes: list[OrderChange] = []
        self.customers: list[CustomerSnapshot] = []

    async def __call__(self, conn: Any, changes: Sequence[OrderChange], customers: Sequence[CustomerSnapshot]) -> int:
        self.changes.extend(changes)
        self.customers.extend(customers)
        return len(changes) + len(customers)


@pytest.fixture
def emitter() -> RecordingEmitter:
    return RecordingEmitter()


@pytest.fixture
async def tenant_id(pool: asyncpg.Pool) -> UUID:
    async with pool.acquire() as conn:
        tenant, _ = await create_tenant(conn, "test tenant")
    return tenant.id
