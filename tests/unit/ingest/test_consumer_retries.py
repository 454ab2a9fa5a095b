"""The consumer's error handling, with fakes: transient failures retry the batch, a poison record is isolated."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from services.ingest import errors
from services.ingest.application.ingestion import BatchResult, EmitEvents, IngestOptions, Received
from services.ingest.domain.planning import Outcome
from services.ingest.entrypoints.consumer import BatchIngestor


class FakePool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[object]:
        yield object()


class Transient(Exception):
    sqlstate = "40P01"  # deadlock detected


class ScriptedIngest:
    """Fails as scripted, records every call (a fake that records, not a mock)."""

    def __init__(self, transient_failures: int = 0, poison: set[int] | None = None) -> None:
        self.transient_failures, self.poison, self.calls = transient_failures, poison or set(), []  # type: ignore[var-annotated]

    async def __call__(self, conn: Any, records: Sequence[Received], emit: EmitEvents, o: IngestOptions) -> BatchResult:
        self.calls.append([r.ref for r in records])
        if self.transient_failures:
            self.transient_failures -= 1
            raise Transient("deadlock")
        if any(r.ref in self.poison for r in records):
            raise ValueError("cannot apply")
        return BatchResult(outcomes=[Outcome(r.ref, None, str(r.ref), None, "created") for r in records])  # type: ignore[arg-type]


def records(n: int) -> list[Received]:
    return [Received(i, "t", 0, i, None, b"{}") for i in range(n)]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "backoff_delay", lambda attempt: 0.0)


async def noop_emit(*_: object) -> int:
    return 0


async def test_transient_failures_retry_the_whole_batch() -> None:
    ingest = ScriptedIngest(transient_failures=3)
    ingestor = BatchIngestor(FakePool(), noop_emit, IngestOptions(), ingest=ingest)
    result = await ingestor.apply(records(3))
    assert [o.ref for o in result.outcomes] == [0, 1, 2] and result.rejected == []
    assert ingest.calls == [[0, 1, 2]] * 4 and ingestor.transient_retries == 3


async def test_a_record_failing_on_its_own_is_dead_lettered_and_the_rest_land() -> None:
    ingest = ScriptedIngest(poison={1})
    result = await BatchIngestor(FakePool(), noop_emit, IngestOptions(), ingest=ingest).apply(records(3))
    assert [o.ref for o in result.outcomes] == [0, 2]
    assert [(r.ref, r.reason) for r in result.rejected] == [(1, "processing_error")]


@pytest.mark.parametrize(
    ("exc", "transient"),
    [(Transient(), True), (ConnectionResetError(), True), (ValueError(), False), (KeyError(), False)],
)
def test_is_transient(exc: BaseException, transient: bool) -> None:
    assert errors.is_transient(exc) is transient
