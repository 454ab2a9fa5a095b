"""Hostile text in every text field of a message (line separators, C1 controls, noncharacters, escapes spelled out,
astral and combining characters, the contract's longest texts): the order and its outbox event hold it exactly
(json's binary COPY), or the record is dead-lettered with a reason; never a failed batch.
Seeded: ORDERINFO_PAYLOAD_TEXT_SEED replays one run (its seed is printed)."""

from __future__ import annotations

import json
import os
import random
from typing import Any

import asyncpg
import pytest

from services.ingest import errors
from tests.integration.hostile.test_messages import _ingest, _record, _tenants, _with_text

pytestmark = pytest.mark.integration

PIECES = [
    "\u2028",
    "\u2029",
    "\u0085",
    "\u00a0",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\ufdd0",
    "\U0010ffff",
    "\U0001f6d2",
    "e\u0301",
    "\u202e",
    "\\u0000",
    "\\ud800",
    "\\",
    '"',
    "'",
    "</script>",
    "\u3000",
    "\u200b",
    "a",
    "订单",
    "\x7f",
    "\u00ad",
    "%00",
    "{}",
    "[",
    "\ud7ff",
    "\ue000",
]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 12)))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


async def test_hostile_texts_land_exactly_in_the_order_and_its_event_or_are_dead_lettered(pool: asyncpg.Pool) -> None:
    given = os.environ.get("ORDERINFO_PAYLOAD_TEXT_SEED")
    seed = int(given) if given else random.randrange(1 << 32)
    print(f"seed {seed} (ORDERINFO_PAYLOAD_TEXT_SEED={seed} replays it)")
    rng = random.Random(seed)
    tenant, _ = await _tenants(pool)
    texts = {f"H-{n}": _text(rng) for n in range(40)}
    texts["H-long"] = ("\u2028订" * 500)[:500]
    result = await _ingest(pool, *[_record(tenant, _with_text(tenant, no, text)) for no, text in texts.items()])
    refused = {r.order_no: r for r in result.rejected}
    assert all(r.reason == errors.CONTRACT_VIOLATION and r.message for r in refused.values())
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT order_no, remark FROM orders WHERE tenant_id = $1", tenant)
        payloads = await conn.fetch(
            "SELECT key, payload::text AS payload FROM outbox WHERE tenant_id = $1 AND payload IS NOT NULL", tenant
        )
    stored = {r["order_no"]: r["remark"] for r in rows}
    print(f"{len(stored)} stored, {len(refused)} refused: {sorted({r.message[:60] for r in refused.values()})}")
    assert set(stored) | set(refused) == set(texts) and not set(stored) & set(refused)
    for order_no, remark in stored.items():
        assert (remark or "") == texts[order_no].strip(), (seed, order_no)  # blank is absent
    events = [_strings(json.loads(p["payload"])) for p in payloads]
    for order_no, remark in stored.items():
        if remark:
            assert any(remark in strings and order_no in strings for strings in events), (seed, order_no, remark)
