"""The consumer's error handling, with fakes: transient failures retry the batch a bounded number of times, then
the batch is split; a poison record is isolated; driver errors are classified once (issue 10, finding 10)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest

from services.ingest import errors
from services.ingest.adapters.storage import concurrent_inserts, translate
from services.ingest.application.ingestion import BatchResult, EmitEvents, IngestOptions, Received
from services.ingest.application.personas import FoldResult
from services.ingest.domain.planning import Outcome
from services.ingest.entrypoints.consumer import BatchIngestor
from services.platform.observability import Metrics


class FakePool:
    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[object]:
        yield object()


def pg_error(sqlstate: str, constraint: str | None = None) -> asyncpg.PostgresError:
    fields = {"C": sqlstate, "M": f"error {sqlstate}"} | ({"n": constraint} if constraint else {})
    return asyncpg.PostgresError.new(fields)  # type: ignore[no-any-return]


DEADLOCK = pg_error("40P01")


class ScriptedIngest:
    """Fails as scripted, records every call (a fake that records, not a mock)."""

    def __init__(
        self,
        failures: Sequence[BaseException] = (),
        poison: set[int] | None = None,
        always: BaseException | None = None,
    ) -> None:
        self.failures, self.poison, self.always = list(failures), poison or set(), always
        self.calls: list[list[int]] = []

    async def __call__(self, conn: Any, records: Sequence[Received], emit: EmitEvents, o: IngestOptions) -> BatchResult:
        self.calls.append([r.ref for r in records])
        if self.always is not None:
            raise self.always
        if self.failures:
            raise self.failures.pop(0)
        if any(r.ref in self.poison for r in records):
            raise ValueError("cannot apply")
        return BatchResult(outcomes=[Outcome(r.ref, None, str(r.ref), None, "created") for r in records])  # type: ignore[arg-type]


class RecordingMetrics:
    def __init__(self) -> None:
        self.retries: list[str] = []
        self.splits = self.restarts = 0

    def observe_batch(self, records: int, result: Any, seconds: float | None = None) -> None:
        pass

    def observe_retry(self, kind: str) -> None:
        self.retries.append(kind)

    def observe_split(self) -> None:
        self.splits += 1

    def observe_restart(self) -> None:
        self.restarts += 1


def records(n: int) -> list[Received]:
    return [Received(i, "t", 0, i, None, b"{}") for i in range(n)]


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(errors, "backoff_delay", lambda attempt: 0.0)


async def noop_emit(*_: object) -> int:
    return 0


def ingestor(ingest: ScriptedIngest, max_retries: int = 5) -> tuple[BatchIngestor, RecordingMetrics]:
    metrics = RecordingMetrics()
    return BatchIngestor(
        FakePool(), noop_emit, IngestOptions(), metrics, ingest=ingest, max_retries=max_retries
    ), metrics


async def test_transient_failures_retry_the_whole_batch() -> None:
    ingest = ScriptedIngest([DEADLOCK] * 3)
    consumer, metrics = ingestor(ingest)
    result = await consumer.apply(records(3))
    assert [o.ref for o in result.outcomes] == [0, 1, 2] and result.rejected == []
    assert ingest.calls == [[0, 1, 2]] * 4 and consumer.transient_retries == 3
    assert metrics.retries == ["conflict"] * 3 and metrics.splits == 0


async def test_transient_retries_are_bounded_then_the_batch_is_split() -> None:
    ingest = ScriptedIngest([DEADLOCK] * 3)
    consumer, metrics = ingestor(ingest, max_retries=2)
    result = await consumer.apply(records(2))
    assert [o.ref for o in result.outcomes] == [0, 1]
    assert ingest.calls == [[0, 1], [0, 1], [0, 1], [0], [1]]
    assert metrics.splits == 1 and len(metrics.retries) == 2


async def test_a_unique_violation_no_concurrent_insert_explains_is_not_retried() -> None:
    ingest = ScriptedIngest(always=pg_error("23505", "orders_pkey"))
    consumer, metrics = ingestor(ingest)
    result = await consumer.apply(records(2))
    assert ingest.calls == [[0, 1], [0], [1]] and metrics.retries == []
    assert [(r.ref, r.reason) for r in result.rejected] == [(0, "processing_error"), (1, "processing_error")]
    assert "UniqueViolationError" in result.rejected[0].exception
    assert "UniqueViolation" not in result.rejected[0].message


async def test_while_the_database_is_unreachable_nothing_is_dead_lettered() -> None:
    consumer, metrics = ingestor(ScriptedIngest(always=ConnectionRefusedError("refused")), max_retries=1)
    with pytest.raises(errors.StorageUnavailable):
        await consumer.apply(records(2))
    assert metrics.retries == ["unavailable"]


async def test_a_record_failing_on_its_own_is_dead_lettered_and_the_rest_land() -> None:
    consumer, _ = ingestor(ScriptedIngest(poison={1}))
    result = await consumer.apply(records(3))
    assert [o.ref for o in result.outcomes] == [0, 2]
    assert [(r.ref, r.reason) for r in result.rejected] == [(1, "processing_error")]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (DEADLOCK, errors.TransientStorage),
        (pg_error("40001"), errors.TransientStorage),
        (pg_error("23505", "customers_mobile"), errors.TransientStorage),
        (pg_error("23505", "import_orders_pkey"), errors.PermanentStorage),
        (pg_error("22003"), errors.PermanentStorage),
        (pg_error("57P01"), errors.StorageUnavailable),
        (pg_error("08006"), errors.StorageUnavailable),
        (ConnectionResetError(), errors.StorageUnavailable),
        (TimeoutError(), errors.StorageUnavailable),
        (asyncpg.InterfaceError("pool is closing"), errors.StorageUnavailable),
        (ValueError(), type(None)),
        (KeyError(), type(None)),
    ],
)
def test_driver_errors_are_translated_once(exc: BaseException, kind: type) -> None:
    assert type(translate(exc)) is kind


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (pg_error("23505", "orders_pkey"), errors.TransientStorage),  # a rival's insert of the same new order
        (pg_error("23505", "order_lines_pkey"), asyncpg.UniqueViolationError),  # left to `storage_errors`
        (DEADLOCK, asyncpg.DeadlockDetectedError),
    ],
)
async def test_only_the_named_unique_violation_is_a_concurrent_insert(exc: BaseException, kind: type) -> None:
    with pytest.raises(kind):
        async with concurrent_inserts("orders_pkey"):
            raise exc


async def test_retries_splits_and_dead_letters_by_reason_are_on_the_metrics_page() -> None:
    metrics = Metrics()
    ingest = ScriptedIngest([DEADLOCK, DEADLOCK], poison={1})
    batches = BatchIngestor(FakePool(), noop_emit, IngestOptions(), metrics, ingest=ingest, max_retries=3)
    result = await batches.apply(records(3))
    metrics.observe_batch(3, result)
    metrics.observe_restart()
    page = metrics.exposition().decode()
    assert 'orderinfo_ingest_retries_total{kind="conflict"} 2.0' in page
    assert "orderinfo_ingest_batch_splits_total 1.0" in page
    assert "orderinfo_ingest_batch_restarts_total 1.0" in page
    assert 'orderinfo_ingest_dead_letters_total{reason="processing_error"} 1.0' in page


class TouchingIngest(ScriptedIngest):
    """Every record touches the customer numbered like it; records whether it was asked to fold itself."""

    def __init__(self) -> None:
        super().__init__()
        self.folds_asked: list[bool] = []

    async def __call__(self, conn: Any, records: Sequence[Received], emit: EmitEvents, o: IngestOptions) -> BatchResult:
        result = await super().__call__(conn, records, emit, o)
        self.folds_asked.append(o.fold_personas)
        result.touched = [(r.ref, r.ref) for r in records]  # type: ignore[misc]
        return result


class GatedFold:
    """A fold that waits for its gate; records which customers each fold got and how many ran at once."""

    def __init__(self) -> None:
        self.gate, self.folded, self.running, self.most = asyncio.Event(), [], 0, 0

    async def __call__(self, conn: Any, emit: Any, now: Any, thresholds: Any, keys: Sequence[Any]) -> FoldResult:
        self.running += 1
        self.most = max(self.most, self.running)
        await self.gate.wait()
        self.running -= 1
        self.folded.append(list(keys))
        return FoldResult(customers=len(keys), events=len(keys), lags_s=[0.1] * len(keys))


async def test_overlapped_folds_run_beside_the_next_batch_one_at_a_time() -> None:
    ingest, fold = TouchingIngest(), GatedFold()
    consumer = BatchIngestor(FakePool(), noop_emit, IngestOptions(), ingest=ingest, overlap_folds=True, fold=fold)
    first = await consumer.apply(records(2))
    assert first.events == 0 and fold.folded == []  # its fold is under way, not awaited
    fold.gate.set()
    second = await consumer.apply(records(3))
    assert ingest.folds_asked == [False, False]  # the batch's transaction never folds itself
    assert fold.folded == [[(0, 0), (1, 1)]] and second.events == 2 and second.persona_lags_s == [0.1, 0.1]
    last = await consumer.drain()
    assert last.events == 3 and fold.folded[-1] == [(0, 0), (1, 1), (2, 2)] and fold.most == 1
    assert (await consumer.drain()).events == 0


async def test_members_sharing_the_ingestor_lose_no_fold() -> None:
    """`consumer_concurrency` members share one ingestor: every fold is awaited and reported once (none dropped
    unawaited, which shutdown would not wait for)."""
    ingest, fold = TouchingIngest(), GatedFold()
    consumer = BatchIngestor(FakePool(), noop_emit, IngestOptions(), ingest=ingest, overlap_folds=True, fold=fold)
    first = await consumer.apply(records(1))  # its fold waits at the gate
    other = asyncio.create_task(consumer.apply(records(2)))  # another member: waits for that fold
    for _ in range(5):
        await asyncio.sleep(0)
    third = asyncio.create_task(consumer.apply(records(3)))
    for _ in range(5):
        await asyncio.sleep(0)
    fold.gate.set()
    results = [first, await other, await third, await consumer.drain()]
    assert sum(r.events for r in results) == sum(len(keys) for keys in fold.folded) == 1 + 2 + 3
    assert len(fold.folded) == 3 and fold.running == 0 and not consumer._running


async def test_a_failed_fold_is_left_to_the_persona_stage() -> None:
    async def failing(*_: Any) -> FoldResult:
        raise RuntimeError("gone")

    consumer = BatchIngestor(
        FakePool(), noop_emit, IngestOptions(), ingest=TouchingIngest(), overlap_folds=True, fold=failing
    )
    await consumer.apply(records(1))
    assert (await consumer.drain()).events == 0
