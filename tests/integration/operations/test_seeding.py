"""A seeded tenant's customers hold what the persona stage would compute from their stored orders: the persona
(against the SQL reference, `order_store.personas_from_orders`) and the persona state the next order folds onto
(against the stage's own recomputation, `persona_store.states_from_orders`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import asyncpg

from services.ingest.adapters import order_store, persona_store
from services.ingest.domain.persona import LifecycleThresholds
from services.ingest.domain.persona_deltas import state_from_json, state_to_json
from tools.seeding import seed


async def test_seeded_personas_and_states_agree_with_the_persona_stage(pool: asyncpg.Pool) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    tenant_id, _ = await seed(pool, f"seed-{uuid.uuid4().hex[:8]}", 3_000, seed=7, now=now)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, persona, persona_state::text AS state FROM customers WHERE tenant_id = $1", tenant_id
        )
        keys = [(tenant_id, r["id"]) for r in rows]
        personas = await order_store.personas_from_orders(conn, keys, now, LifecycleThresholds())
        states = await persona_store.states_from_orders(conn, keys)
    assert len(rows) == 450 and sum(1 for r in rows if r["persona"]["order_count"]) > 300
    for r in rows:
        key = (tenant_id, r["id"])
        assert r["persona"] == personas[key], r["id"]
        stored = state_from_json(json.loads(r["state"]))
        assert state_to_json(stored) == state_to_json(states[key]), r["id"]
