"""Answers of `POST /v1/orders:batch` kept by Idempotency-Key, per tenant (table `push_requests`, migration 0009).

A request claims its key first (one row, `in_progress`); a completed request stores its answer; one that did not
complete releases the key. A claim older than the retention is free again, and so is one left `in_progress`
longer than `ABANDONED_AFTER_S` (its process died mid-request; publishing again is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.ingest.adapters import sql

ABANDONED_AFTER_S = 300.0


@dataclass(frozen=True)
class Claimed:
    """The key is this request's: handle it, then `complete` or `release`."""


@dataclass(frozen=True)
class Replay:
    """The key was used before: with this body digest and, once complete, this answer (None: still in progress)."""

    body_sha256: bytes
    response: dict[str, Any] | None


async def claim(conn: Any, tenant_id: UUID, key: str, digest: bytes, retention_s: float) -> Claimed | Replay:
    row = await conn.fetchrow(sql.CLAIM_PUSH_REQUEST, tenant_id, key, digest, retention_s, ABANDONED_AFTER_S)
    if row is not None:
        return Claimed()
    found = await conn.fetchrow(sql.PUSH_REQUEST, tenant_id, key)
    if found is None:  # released between the two statements: a race the client may simply retry
        return Replay(digest, None)
    return Replay(bytes(found["body_sha256"]), found["response"])


async def complete(conn: Any, tenant_id: UUID, key: str, response: dict[str, Any]) -> None:
    await conn.execute(sql.COMPLETE_PUSH_REQUEST, tenant_id, key, response)


async def release(conn: Any, tenant_id: UUID, key: str) -> None:
    await conn.execute(sql.RELEASE_PUSH_REQUEST, tenant_id, key)


async def purge(conn: Any, retention_s: float, limit: int = 10_000) -> int:
    """Delete up to `limit` answers older than the retention; how many were deleted."""
    deleted: int = await conn.fetchval(sql.PURGE_PUSH_REQUESTS, retention_s, limit)
    return deleted
