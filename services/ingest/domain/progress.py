"""Import progress: what the consumer's outcomes add to each import's counters, and the state those counters put
the import in. Pure.

An order counts toward its import once (the first outcome recorded for it). `processed` counts what the consumer
applied (`created`, `updated`, `unchanged`, `stale_status`, `rejected`); a dead letter is counted as one unless a
later applied outcome superseded it, in which case that order is already counted as applied.

`import_state` is the one place the rules of an import's state live: the upload records the state it gives, the
consumer stores the state it gives after each advance of the counters (adapters/import_jobs), and only failing an
import (publishing stopped, the upload died, a strict import refused) sets a state by decision rather than by count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from services.ingest.domain.planning import OUTCOMES as APPLIED  # processed by the consumer

DEAD_LETTERED = "dead_lettered"  # the record could not be applied: counted, never processed


class ImportState(StrEnum):
    """Where an import is (stored as text in `imports.state`)."""

    QUEUED = "queued"  # recorded, its orders not yet all published
    PROCESSING = "processing"  # published (or being counted), some orders not yet landed
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"  # all landed, some rows invalid, rejected or dead-lettered
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({ImportState.COMPLETED, ImportState.COMPLETED_WITH_ERRORS, ImportState.FAILED})


@dataclass(frozen=True, slots=True)
class ImportCounts:
    """What an import's state is decided from: its state as stored and its counters."""

    state: ImportState
    orders_total: int
    orders_published: int
    orders_processed: int
    dead_lettered: int
    rejected: int
    rows_invalid: int


def import_state(counts: ImportCounts) -> ImportState:
    """The state `counts` put the import in. A failed import stays failed (what lands of it is still counted);
    every order landed (applied or dead-lettered, none left of `orders_total`): completed, with errors when a row was
    invalid or an order rejected or dead-lettered; else processing once an order was published or landed, queued
    before."""
    if counts.state is ImportState.FAILED:
        return ImportState.FAILED
    landed = counts.orders_processed + counts.dead_lettered
    if landed >= counts.orders_total:
        errors = counts.rows_invalid or counts.dead_lettered or counts.rejected
        return ImportState.COMPLETED_WITH_ERRORS if errors else ImportState.COMPLETED
    if landed or counts.orders_published or counts.state is ImportState.PROCESSING:
        return ImportState.PROCESSING
    return ImportState.QUEUED


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
