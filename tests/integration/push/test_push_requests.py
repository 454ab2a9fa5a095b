"""The push use case and its idempotency store on the real database (the broker replaced by recording ports)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg
import pytest

from services.ingest.adapters import push_requests
from services.ingest.adapters.push_requests import Claimed, Replay
from services.ingest.application.imports import OutgoingOrder
from services.ingest.application.push import (
    IdempotencyConflict,
    PushNotPublished,
    PushOptions,
    PushRequest,
    body_digest,
    push_orders,
)
from services.ingest.errors import StorageUnavailable
from tests.integration.push.conftest import Tenant, pushed_order


class Broker:
    """Records what it was handed; refuses every message while `down`."""

    def __init__(self) -> None:
        self.published: list[OutgoingOrder] = []
        self.down = False

    async def __call__(self, items: Sequence[OutgoingOrder]) -> list[BaseException | None]:
        if self.down:
            return [ConnectionError("broker down")] * len(items)
        self.published += items
        return [None] * len(items)


def admit_all(orders: int) -> None:
    return None


async def test_a_push_not_published_keeps_nothing_and_may_be_sent_again(pool: asyncpg.Pool, tenant: Tenant) -> None:
    body = json.dumps({"orders": [pushed_order("N1"), pushed_order("N2")]}).encode()
    request = PushRequest(tenant.id, "mall-sync", body, "retry-me")
    broker = Broker()
    broker.down = True
    with pytest.raises(PushNotPublished) as failed:
        await push_orders(pool, broker, request, PushOptions(), admit_all, 3600)
    assert (failed.value.published, failed.value.total) == (0, 2) and '"N1"' in failed.value.reason
    broker.down = False
    answer = await push_orders(pool, broker, request, PushOptions(), admit_all, 3600)
    assert (answer.accepted, answer.replayed, len(broker.published)) == (2, False, 2)
    again = await push_orders(pool, broker, request, PushOptions(), admit_all, 3600)
    assert again.replayed and again.orders == answer.orders and len(broker.published) == 2


async def test_a_throttled_push_keeps_nothing(pool: asyncpg.Pool, tenant: Tenant) -> None:
    body = json.dumps({"orders": [pushed_order("N3")]}).encode()
    request = PushRequest(tenant.id, "mall-sync", body, "throttled")

    def refuse(orders: int) -> None:
        raise RuntimeError("over the rate")

    with pytest.raises(RuntimeError):
        await push_orders(pool, Broker(), request, PushOptions(), refuse, 3600)
    assert (await push_orders(pool, Broker(), request, PushOptions(), admit_all, 3600)).accepted == 1


async def test_claims_in_progress_conflict_and_expire_after_the_retention(pool: asyncpg.Pool, tenant: Tenant) -> None:
    async with pool.acquire() as conn:
        a = body_digest(b"a")
        assert isinstance(await push_requests.claim(conn, tenant.id, "k", a, 3600), Claimed)
        assert await push_requests.claim(conn, tenant.id, "k", a, 3600) == Replay(a, None)
        with pytest.raises(IdempotencyConflict) as busy:
            request = PushRequest(tenant.id, "p", b"a", "k")
            await push_orders(pool, Broker(), request, PushOptions(), admit_all, 3600)
        assert busy.value.in_progress
        await push_requests.complete(conn, tenant.id, "k", {"accepted": 0, "rejected": 0, "orders": []})
        assert await push_requests.claim(conn, tenant.id, "k", b"b", 3600) == Replay(
            a, {"accepted": 0, "rejected": 0, "orders": []}
        )
        await conn.execute(
            "UPDATE push_requests SET created_at = now() - interval '2 hours' WHERE tenant_id = $1", tenant.id
        )
        assert isinstance(await push_requests.claim(conn, tenant.id, "k", b"b", 3600), Claimed)  # expired: free
        await conn.execute(
            "UPDATE push_requests SET created_at = now() - interval '2 hours' WHERE tenant_id = $1", tenant.id
        )
        assert await push_requests.purge(conn, 3600) >= 1
        assert await conn.fetchval("SELECT count(*) FROM push_requests WHERE tenant_id = $1", tenant.id) == 0


async def _store_down(*_: object) -> None:
    raise StorageUnavailable("ConnectionRefusedError: the database went away")


async def test_a_published_push_is_answered_though_its_answer_cannot_be_kept(
    pool: asyncpg.Pool, tenant: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"orders": [pushed_order("K1"), {"order_no": "K2"}]}).encode()
    request = PushRequest(tenant.id, "mall-sync", body, "unkept")
    broker = Broker()
    monkeypatch.setattr(push_requests, "complete", _store_down)
    answer = await push_orders(pool, broker, request, PushOptions(), admit_all, 3600)
    assert (answer.accepted, answer.rejected, [o.order_no for o in broker.published]) == (1, 1, ["K1"])
    assert "could not keep the answer" in caplog.text and "unkept" in caplog.text


async def test_a_refused_push_keeps_its_own_error_when_its_key_cannot_be_released(
    pool: asyncpg.Pool, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = PushRequest(tenant.id, "mall-sync", json.dumps({"orders": [pushed_order("K3")]}).encode(), "unreleased")

    def refuse(orders: int) -> None:
        raise RuntimeError("over the rate")

    monkeypatch.setattr(push_requests, "release", _store_down)
    with pytest.raises(RuntimeError, match="over the rate"):
        await push_orders(pool, Broker(), request, PushOptions(), refuse, 3600)
