"""What the pipeline holds for one tenant right now: outbox backlog, imports by state, latest dead letters.

Read-only; every statement filters on the tenant id passed first. The outbox backlog uses the partial index of
unsent rows (small when the relay keeps up). Functions take the connection first; the caller owns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

Conn = Any
DEAD_LETTERS_SHOWN = 20

OUTBOX_BACKLOG = """
SELECT count(*) AS unsent, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS oldest_age_s
FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL
"""

IMPORTS_BY_STATE = """
SELECT state, count(*) AS imports FROM imports WHERE tenant_id = $1 GROUP BY state ORDER BY state
"""

LATEST_DEAD_LETTERS = """
SELECT io.import_id, io.order_no, io.detail, io.processed_at, i.filename
FROM import_orders io JOIN imports i ON i.tenant_id = io.tenant_id AND i.id = io.import_id
WHERE io.tenant_id = $1 AND io.outcome = 'dead_lettered'
ORDER BY io.processed_at DESC LIMIT $2
"""

# the reason is the detail's first part ("contract_violation: source: Field required" -> contract_violation)
DEAD_LETTERS_BY_REASON = """
SELECT split_part(detail, ':', 1) AS reason, count(*) AS dead_letters, max(processed_at) AS latest
FROM import_orders
WHERE tenant_id = $1 AND outcome = 'dead_lettered' AND processed_at >= now() - make_interval(days => $2)
GROUP BY 1 ORDER BY 2 DESC, 1
"""
REASON_WINDOW_DAYS = 30

# every tenant's (for /metrics): imports not finished, and those without progress for longer than $1 seconds
ACTIVE_IMPORTS = """
SELECT state, count(*) AS imports,
       count(*) FILTER (WHERE updated_at < now() - make_interval(secs => $1)) AS stuck
FROM imports WHERE state IN ('queued', 'processing') GROUP BY state
"""


@dataclass(frozen=True)
class PipelineState:
    unsent_events: int
    oldest_unsent_age_s: float | None
    imports_by_state: dict[str, int]
    dead_letters: list[dict[str, Any]]
    dead_letters_by_reason: list[dict[str, Any]]


async def pipeline_state(conn: Conn, tenant_id: UUID) -> PipelineState:
    backlog = await conn.fetchrow(OUTBOX_BACKLOG, tenant_id)
    states = {r["state"]: r["imports"] for r in await conn.fetch(IMPORTS_BY_STATE, tenant_id)}
    dead = [dict(r) for r in await conn.fetch(LATEST_DEAD_LETTERS, tenant_id, DEAD_LETTERS_SHOWN)]
    reasons = [dict(r) for r in await conn.fetch(DEAD_LETTERS_BY_REASON, tenant_id, REASON_WINDOW_DAYS)]
    return PipelineState(backlog["unsent"], backlog["oldest_age_s"], states, dead, reasons)


async def active_imports(conn: Conn, stuck_after_s: float) -> tuple[dict[str, int], int]:
    """Every tenant's unfinished imports by state, and how many made no progress for `stuck_after_s`."""
    rows = await conn.fetch(ACTIVE_IMPORTS, stuck_after_s)
    return {r["state"]: r["imports"] for r in rows}, sum(r["stuck"] for r in rows)
