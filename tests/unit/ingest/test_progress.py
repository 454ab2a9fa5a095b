"""Import progress without a database: what the recorded outcomes add to each import's counters."""

from __future__ import annotations

import uuid

from services.ingest.domain.progress import ImportProgress, RecordedOutcome, import_progress

T, A, B = uuid.UUID(int=1), uuid.UUID(int=10), uuid.UUID(int=11)


def test_applied_outcomes_count_as_processed_and_by_kind() -> None:
    recorded = [RecordedOutcome(T, A, o) for o in ("created", "created", "updated", "unchanged", "stale_status")]
    recorded.append(RecordedOutcome(T, A, "rejected"))
    assert import_progress(recorded) == [ImportProgress(T, A, 6, 2, 1, 1, 1, 0, 1)]


def test_a_dead_letter_counts_unless_an_applied_outcome_superseded_it() -> None:
    recorded = [
        RecordedOutcome(T, A, "dead_lettered"),
        RecordedOutcome(T, A, "dead_lettered"),
        RecordedOutcome(T, A, "created", superseded=True),  # this order's dead letter was recorded earlier
    ]
    assert import_progress(recorded) == [ImportProgress(T, A, 1, 1, 0, 0, 0, 1, 0)]


def test_each_import_gets_its_own_increments_in_key_order() -> None:
    recorded = [RecordedOutcome(T, B, "updated"), RecordedOutcome(T, A, "created")]
    assert [(p.import_id, p.processed, p.created, p.updated) for p in import_progress(recorded)] == [
        (A, 1, 1, 0),
        (B, 1, 0, 1),
    ]


def test_nothing_recorded_advances_nothing() -> None:
    assert import_progress([]) == []
