"""Import progress without a database: what the recorded outcomes add to each import's counters."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.ingest.domain.progress import (
    ImportCounts,
    ImportProgress,
    ImportState,
    RecordedOutcome,
    import_progress,
    import_state,
)

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


def _counts(state: str = "queued", total: int = 3, **counters: int) -> ImportCounts:
    base = {"published": 0, "processed": 0, "dead": 0, "rejected": 0, "invalid": 0} | counters
    return ImportCounts(
        ImportState(state),
        total,
        base["published"],
        base["processed"],
        base["dead"],
        base["rejected"],
        base["invalid"],
    )


def test_an_import_is_queued_until_published_then_processing_until_every_order_landed() -> None:
    assert import_state(_counts()) is ImportState.QUEUED
    assert import_state(_counts(published=3)) is ImportState.PROCESSING
    assert import_state(_counts(processed=1)) is ImportState.PROCESSING  # an order landed before mark_published
    assert import_state(_counts("processing", published=3, processed=2)) is ImportState.PROCESSING
    assert import_state(_counts("processing", published=3, processed=3)) is ImportState.COMPLETED
    assert import_state(_counts("processing", published=3, processed=2, dead=1)) is ImportState.COMPLETED_WITH_ERRORS


def test_errors_anywhere_complete_with_errors_and_a_failed_import_stays_failed() -> None:
    assert import_state(_counts(total=0)) is ImportState.COMPLETED  # nothing to publish
    assert import_state(_counts(total=0, invalid=2)) is ImportState.COMPLETED_WITH_ERRORS
    assert import_state(_counts(processed=3, rejected=1)) is ImportState.COMPLETED_WITH_ERRORS
    assert import_state(_counts(processed=3, invalid=1)) is ImportState.COMPLETED_WITH_ERRORS
    assert import_state(_counts("failed", processed=3)) is ImportState.FAILED
    assert import_state(_counts("failed", total=0)) is ImportState.FAILED


@given(
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 5),
    st.sampled_from(list(ImportState)),
)
def test_counting_more_never_moves_an_import_back(
    total: int, published: int, processed: int, dead: int, rejected: int, stored: ImportState
) -> None:
    """What the counters can do next (another order lands) never takes a state to an earlier one, and a terminal
    state is final; so storing the state after each advance cannot flap."""
    rejected = min(rejected, processed)
    order = [ImportState.QUEUED, ImportState.PROCESSING]
    before = import_state(ImportCounts(stored, total, published, processed, dead, rejected, 0))
    after = import_state(ImportCounts(before, total, published, processed + 1, dead, rejected, 0))
    if before.terminal:
        assert after is before
    elif after in order:
        assert order.index(after) >= order.index(before)
    assert after.terminal == (after is ImportState.FAILED or processed + 1 + dead >= total)
