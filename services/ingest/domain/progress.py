"""Import progress: what the consumer's outcomes add to each import's counters. Pure.

An order counts toward its import once (the first outcome recorded for it). `processed` counts what the consumer
applied (`created`, `updated`, `unchanged`, `stale_status`, `rejected`); a dead letter is counted as one unless a
later applied outcome superseded it, in which case that order is already counted as applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

APPLIED = ("created", "updated", "unchanged", "stale_status", "rejected")  # processed by the consumer
DEAD_LETTERED = "dead_lettered"


@dataclass(frozen=True)
class RecordedOutcome:
    """An order's outcome, newly recorded for its import; `superseded`: it replaced a recorded dead letter."""

    tenant_id: UUID
    import_id: UUID
    outcome: str
    superseded: bool = False


@dataclass(frozen=True)
class ImportProgress:
    """What to add to one import's counters."""

    tenant_id: UUID
    import_id: UUID
    processed: int
    created: int
    updated: int
    unchanged: int
    stale_status: int
    dead_lettered: int
    rejected: int


def import_progress(recorded: Iterable[RecordedOutcome]) -> list[ImportProgress]:
    """Each touched import's increments, in (tenant, import) order."""
    recorded = list(recorded)
    counts = Counter((r.tenant_id, r.import_id, r.outcome) for r in recorded)
    superseded = Counter((r.tenant_id, r.import_id) for r in recorded if r.superseded)
    jobs = sorted({(r.tenant_id, r.import_id) for r in recorded})

    def count(job: tuple[UUID, UUID], outcome: str) -> int:
        return counts[(*job, outcome)]

    return [
        ImportProgress(
            *job,
            processed=sum(count(job, o) for o in APPLIED),
            created=count(job, "created"),
            updated=count(job, "updated"),
            unchanged=count(job, "unchanged"),
            stale_status=count(job, "stale_status"),
            dead_lettered=count(job, DEAD_LETTERED) - superseded[job],
            rejected=count(job, "rejected"),
        )
        for job in jobs
    ]
