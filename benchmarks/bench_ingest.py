"""Import benchmark on the local stack: a 5,000-row .xlsx from upload until the import is completed.

    python -m benchmarks.bench_ingest [--runs N] [--shared-strings] [--stages] [--consumers N] [--cold]

`--consumers 1` is the import as deployed (`orderinfo run`, deploy/compose.yaml): the API in this process, the
consumer an `orderinfo consume` process of its own (started, and in the group with every partition assigned,
before the upload; its CPU from the upload to completed is printed); `--consumers N` runs N of them. The default,
`--consumers 0`, runs the consumer in this process beside the API (built as `run_consumer` builds it: folds
overlapped with the next batch, the settings' retries). Before the timed upload, a small import of another tenant
goes through the same processes, as a running service has seen others (topics' leaders known to the producer,
statements prepared, code loaded); `--cold` times the processes' first import instead. `--shared-strings` uploads
the workbook with its texts in a shared-strings part, as Excel and WPS write it (openpyxl writes inline strings).

`--stages` prints when each stage of the upload started and ended, with this process's CPU and the CPU of the
PostgreSQL backends of the bench's database (the machine is shared: CPU is what a stage costs, wall time also
measures the other processes), each advance of the import's `orders_processed` as the polling client saw it, and
each consumer batch from its start to its commit (in process: as the consumer logged it; consumer processes log
their lines stamped to the millisecond for it).

Also home to the workload (`order_dict`) and the two yardsticks `benchmarks.bench_consumer` compares the consumer
with: the naive baseline and the plain-COPY ceiling. Each run uses a database and topics of its own (dropped
afterwards). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from services.ingest.adapters.tenants import create_tenant
from services.ingest.entrypoints.consumer import BatchIngestor, subscribe
from services.ingest.main import ingest_options, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.database import create_pool, scratch_database
from services.platform.topics import delete_topics_with_prefix
from services.rules_bridge.outbox_writer import emit_events

CUSTOMERS_PER_100K = 30_000


def order_dict(tenant_id: UUID, i: int, customers: int) -> dict[str, Any]:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    return {
        "tenant_id": str(tenant_id),
        "order_no": f"B{i:08d}",
        "source": "taobao",
        "status": "paid",
        "status_raw": "已付款",
        "order_time": when.isoformat(),
        "payment_time": when.isoformat(),
        "store": {"store_no": f"S{i % 200}", "name": f"Store {i % 200}"},
        "buyer": {"mobile": f"139{i % customers:08d}", "nickname": f"buyer{i % customers}"},
        "order_amount": "59.80",
        "paid_amount": "59.80",
        "lines": [
            {
                "product_id": f"P{i % 1000}",
                "sku": "red",
                "product_name": "T-shirt",
                "quantity": 1,
                "unit_price": "19.90",
            },
            {
                "product_id": f"P{(i + 7) % 1000}",
                "sku": "",
                "product_name": "Socks",
                "quantity": 2,
                "unit_price": "19.95",
            },
        ],
    }


async def naive_baseline(pool: Any, tenant_id: UUID, orders: int) -> float:
    """One transaction per order, one statement per row (what a straightforward ORM loop does)."""
    customer = uuid.uuid4()
    await pool.execute(
        "INSERT INTO customers (tenant_id, id, mobile) VALUES ($1, $2, '13800138000')", tenant_id, customer
    )
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for i in range(orders):
            d = order_dict(tenant_id, 10_000_000 + i, 1)
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO orders (tenant_id, order_no, source, status, status_raw, order_time, store_key, store,"
                    " customer_id, matched_by, buyer, total_amount, producer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
                    " $9, 'mobile', $10, $11, 'bench') ON CONFLICT (tenant_id, order_no) DO UPDATE SET status ="
                    " EXCLUDED.status",
                    tenant_id,
                    d["order_no"],
                    d["source"],
                    d["status"],
                    d["status_raw"],
                    datetime.fromisoformat(d["order_time"]),
                    "no:S1",
                    d["store"],
                    customer,
                    d["buyer"],
                    Decimal("59.80"),
                )
                for x in d["lines"]:
                    await conn.execute(
                        "INSERT INTO order_lines (tenant_id, order_no, product_id, sku, quantity, unit_price)"
                        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                        tenant_id,
                        d["order_no"],
                        x["product_id"],
                        x["sku"],
                        x["quantity"],
                        Decimal(x["unit_price"]),
                    )
    return orders / (time.perf_counter() - started)


async def copy_ceiling(pool: Any, tenant_id: UUID, orders: int) -> float:
    """Plain COPY of the same orders and lines into empty tables: what this machine can write at most."""
    customer = uuid.uuid4()
    await pool.execute("INSERT INTO customers (tenant_id, id) VALUES ($1, $2)", tenant_id, customer)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    order_rows = [
        (
            tenant_id,
            f"C{i:08d}",
            "taobao",
            "paid",
            "paid",
            when,
            "no:S1",
            json.dumps({"store_no": "S1"}),
            customer,
            "mobile",
            json.dumps({"mobile": "13800138000"}),
            Decimal("59.80"),
            "bench",
        )
        for i in range(orders)
    ]
    line_rows = [
        (tenant_id, f"C{i:08d}", f"P{i % 1000 + k}", "", 1, Decimal("19.90")) for i in range(orders) for k in range(2)
    ]
    started = time.perf_counter()
    async with pool.acquire() as conn, conn.transaction():
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda v: b"\x01" + v.encode(),
            decoder=lambda b: json.loads(b[1:]),
            schema="pg_catalog",
            format="binary",
        )
        await conn.copy_records_to_table(
            "orders",
            records=order_rows,
            columns=[
                "tenant_id",
                "order_no",
                "source",
                "status",
                "status_raw",
                "order_time",
                "store_key",
                "store",
                "customer_id",
                "matched_by",
                "buyer",
                "total_amount",
                "producer",
            ],
        )
        await conn.copy_records_to_table(
            "order_lines",
            records=line_rows,
            columns=["tenant_id", "order_no", "product_id", "sku", "quantity", "unit_price"],
        )
    return orders / (time.perf_counter() - started)


def bench_workbook(rows: int, shared: bool = False) -> bytes:
    """The uploaded workbook: `rows` rows, 2 lines per order; with `shared`, its texts as shared strings."""
    import tempfile
    from pathlib import Path

    from benchmarks.bench_parse import shared_strings
    from tools.samples import sample_rows, write_sample_xlsx

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.xlsx"
        write_sample_xlsx(path, sample_rows(rows // 2, 2, seed=11))
        data = path.read_bytes()
    return shared_strings(data) if shared else data


class Stages:
    """When each stage of one import started and ended: wall time since the upload, this process's CPU, the CPU of
    the PostgreSQL backends of the bench's database (found in /proc by their process title at each mark, so
    connections opened meanwhile count; the marks' own CPU is left out). Upload stages are timed by wrapping their
    functions for the run; consumer batches from the consumer's own log line."""

    def __init__(self, database: str) -> None:
        self.title = f" {database} ".encode()  # "postgres: user database host(port) state"
        self.marks: list[tuple[float, float, float, str]] = []
        self.started, self.overhead, self.epoch = 0.0, 0.0, 0.0
        self.restore: list[tuple[Any, str, Any]] = []

    def begin(self) -> None:
        self.marks, self.overhead = [], 0.0
        self.started, self.epoch = time.perf_counter(), time.time()
        self.mark("POST /v1/imports")

    def backends_cpu(self) -> float:
        from pathlib import Path

        from benchmarks.bench_consumer import cpu_seconds, postgres_pids

        pids = []
        for pid in postgres_pids():
            try:
                if self.title in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(pid)
            except OSError:
                continue
        return cpu_seconds(pids)

    def mark(self, what: str) -> None:
        wall, cpu = time.perf_counter() - self.started, time.process_time()
        pg = self.backends_cpu()
        self.marks.append((wall, cpu - self.overhead, pg, what))
        self.overhead += time.process_time() - cpu

    def wrap(self, module: Any, name: str, label: str) -> None:
        import functools
        import inspect

        original = getattr(module, name)
        self.restore.append((module, name, original))
        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                self.mark(f"{label} start")
                try:
                    return await original(*args, **kwargs)
                finally:
                    self.mark(f"{label} end")

            setattr(module, name, timed_async)
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                self.mark(f"{label} start")
                try:
                    return original(*args, **kwargs)
                finally:
                    self.mark(f"{label} end")

            setattr(module, name, timed)

    def __enter__(self) -> Stages:
        import logging

        from services.ingest.adapters import import_jobs
        from services.ingest.application import imports
        from services.ingest.entrypoints import consumer

        self.wrap(imports, "parse_import", "parse")
        self.wrap(imports, "prepare_records", "parse, encode rows")
        self.wrap(import_jobs, "record_import", "record job and rows (COPY)")
        self.wrap(imports, "encode_orders", "  encode messages (upload thread, beside the COPY)")
        self.wrap(imports, "_publish_all", "publish and mark published")
        self.wrap(consumer, "handle_batch", "consumer batch")
        self.wrap(import_jobs, "count_results", "  count outcomes (import progress)")
        stages = self

        class BatchLog(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                if record.getMessage().startswith("batch of"):
                    stages.mark("    " + record.getMessage().split(":")[0])

        self.handler = BatchLog(logging.INFO)
        self.logger = logging.getLogger("orderinfo.ingest.consumer")
        self.level = self.logger.level
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        for module, name, original in reversed(self.restore):
            setattr(module, name, original)
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.level)

    def print(self) -> None:
        _, cpu0, pg0, _ = self.marks[0]
        print("    wall s   CPU s (this process, PostgreSQL backends)")
        for wall, cpu, pg, what in self.marks:
            print(f"  {wall:8.3f}   {cpu - cpu0:6.3f} {pg - pg0:6.3f}   {what}")


WARM_UP_ROWS = 200  # 100 orders: every partition of the topic gets some, so every consumer process is warm


@dataclass(frozen=True)
class TimedImport:
    """One timed upload: the tenant's API key and workbook, and the warm-up before it (None: a cold start)."""

    key: str
    data: bytes
    warm_up: WarmUp | None
    stages: bool


@dataclass(frozen=True)
class WarmUp:
    """An import of another tenant (no order or customer in common) completed before the timed one, as a running
    service has seen others: its processes have prepared their statements and loaded their code."""

    key: str
    data: bytes


@dataclass(frozen=True)
class ImportFigures:
    """One timed import: seconds from the upload until the client saw it completed, until the 202, and the CPU
    spent meanwhile: this process's until the 202 (the upload), the consumer processes' (None: the consumer ran
    in this process, counted in `process_cpu_s`), this process's and PostgreSQL's backends' until completed."""

    seconds: float
    accepted_s: float
    upload_cpu_s: float
    consumer_cpu_s: float | None
    process_cpu_s: float
    postgres_cpu_s: float


async def import_to_completed(
    settings: IngestSettings,
    pool: Any,
    rows: int,
    shared: bool = False,
    stages: bool = False,
    consumers: int = 0,
    warm: bool = True,
) -> ImportFigures:
    """A `rows`-row workbook (2 lines per order) from POST /v1/imports until the job is completed, through the real
    app (in process) and a consumer of the same topics (in process, or `consumers` processes); with `warm`, after a
    small import of another tenant went through the same processes."""
    import httpx

    from services.ingest.main import create_app

    async with pool.acquire() as conn:
        _, key = await create_tenant(conn, "bench import")
        _, warm_key = await create_tenant(conn, "bench warm-up")
    warm_up = WarmUp(warm_key, bench_workbook(WARM_UP_ROWS)) if warm else None
    job = TimedImport(key, bench_workbook(rows, shared), warm_up, stages)
    app = create_app(settings)
    if consumers:
        return await _with_consumer_processes(settings, pool, app, job, consumers)
    consumer = producer_broker(settings)
    ingestor = BatchIngestor(
        pool,
        emit_events,
        ingest_options(settings),
        max_retries=settings.consumer_max_retries,
        overlap_folds=settings.consumer_overlap_folds,
    )
    subscribe(consumer, settings, ingestor)
    async with app.router.lifespan_context(app):
        await consumer.start()
        timeline = Stages(settings.database_url.rsplit("/", 1)[1])
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
                await _warm_up(http, pool, job)
                return await _timed_upload(http, job, timeline, lambda: None)
        finally:
            await consumer.stop()
            await ingestor.drain()


async def _warm_up(http: Any, pool: Any, job: TimedImport) -> None:
    if job.warm_up is not None:
        await _upload_until_completed(http, job.warm_up.key, job.warm_up.data, Stages(""), False)
        await _personas_folded(pool)


async def _timed_upload(
    http: Any, job: TimedImport, timeline: Stages, consumer_cpu: Callable[[], float | None]
) -> ImportFigures:
    """The timed upload, and the CPU it cost (`consumer_cpu`: the consumer processes' CPU so far, or None)."""
    import contextlib

    consumer_before, postgres_before, process_before = consumer_cpu(), timeline.backends_cpu(), time.process_time()
    with timeline if job.stages else contextlib.nullcontext():
        seconds, accepted, accepted_cpu = await _upload_until_completed(http, job.key, job.data, timeline, job.stages)
    consumer_after, postgres = consumer_cpu(), timeline.backends_cpu() - postgres_before
    used = None if consumer_before is None or consumer_after is None else consumer_after - consumer_before
    if job.stages:
        timeline.print()
    # CPU of this process (upload thread included) until the 202: the machine is shared, wall time is not what the
    # upload costs when others take turns on the cores
    print(f"  (upload answered 202 after {accepted:.2f} s, {accepted_cpu:.2f} s CPU of this process)")
    figures = ImportFigures(seconds, accepted, accepted_cpu, used, time.process_time() - process_before, postgres)
    consumers = "" if used is None else f", consumer processes {used:.2f} s"
    print(
        f"  (CPU from the upload to completed: this process {figures.process_cpu_s:.2f} s{consumers},"
        f" PostgreSQL {postgres:.2f} s)"
    )
    return figures


async def _personas_folded(pool: Any) -> None:
    """Wait (bounded) until no persona delta is left to fold: the warm-up's work does not spill into the timed run."""
    deadline = time.monotonic() + 60
    while await pool.fetchval("SELECT count(*) FROM persona_deltas") and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # another process's work: nothing to wait on but the table


async def _with_consumer_processes(
    settings: IngestSettings, pool: Any, app: Any, job: TimedImport, consumers: int
) -> ImportFigures:
    """The upload with `consumers` consumer processes (`orderinfo consume`), each in the group before it starts."""
    import tempfile
    from pathlib import Path

    import httpx

    from benchmarks.bench_consumer import cpu_seconds, free_port, spawn_consumers
    from tools.verification.processes import ProcessGroup, service_env

    async with app.router.lifespan_context(app):  # its topics exist before a consumer subscribes
        with tempfile.TemporaryDirectory(prefix="bench-import-") as logs, ProcessGroup(Path(logs)) as group:
            if job.stages:  # `orderinfo consume` itself, its log lines stamped to the millisecond
                started = [
                    group.spawn(
                        f"import-consumer{n}",
                        ["benchmarks.bench_ingest", SERVE_CONSUMER],
                        service_env(settings, {"ORDERINFO_CONSUMER_OPS_PORT": str(free_port())}),
                    )
                    for n in range(consumers)
                ]
            else:
                started = spawn_consumers(group, settings, "import", consumers)
            await _group_stable(settings, consumers, started)
            pids = [p.proc.pid for p in started if p.proc is not None]
            timeline = Stages(settings.database_url.rsplit("/", 1)[1])
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
                await _warm_up(http, pool, job)
                figures = await _timed_upload(http, job, timeline, lambda: cpu_seconds(pids))
            if job.stages:  # each process's batches, as it logged them (stopped first: its last line is written)
                group.close()
                for process in started:
                    print(f"  {process.name}, each batch from its start to its commit (s since the upload):")
                    print(*consumer_batches(process.log_tail(400), timeline.epoch), sep="\n")
            return figures


SERVE_CONSUMER = "--serve-consumer"
STAMPED = "%(created).3f %(levelname)-7s %(name)s: %(message)s"


def serve_consumer() -> int:
    """`orderinfo consume`, its log lines stamped with the epoch to the millisecond (`--stages`)."""
    import logging

    from services import cli

    logging.basicConfig(level=logging.INFO, format=STAMPED)  # cli's own basicConfig then leaves it as is
    return cli.main(["consume"])


def consumer_batches(log: str, epoch: float) -> list[str]:
    """A stamped consumer log's batch lines as `start - end  the line`, in seconds since `epoch` (the upload):
    the end is the line's stamp (logged after the offsets' commit), the start that less the batch's own seconds."""
    import re

    found = []
    for line in log.splitlines():
        match = re.match(r"(\d+\.\d+) \S+ +\S+: (batch of \d+ in ([\d.]+) s.*)", line)
        if match:
            end = float(match[1]) - epoch
            found.append(f"    {end - float(match[3]):7.3f} - {end:7.3f}  {match[2][:140]}")
    return found


GROUP_STABLE_TIMEOUT_S = 90.0


async def _group_stable(settings: IngestSettings, members: int, started: list[Any]) -> None:
    """Wait (bounded) until the consumer group is Stable with `members` members: every partition is assigned, so no
    rebalance (a process joining) falls into the timed import."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    from services.ingest.contracts.orders_ingest_v1 import CONSUMER_GROUP

    group = settings.topic(CONSUMER_GROUP)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        deadline = time.monotonic() + GROUP_STABLE_TIMEOUT_S
        while time.monotonic() < deadline:
            if not all(p.running for p in started):
                raise RuntimeError("a consumer process exited:\n" + "\n".join(p.log_tail() for p in started))
            try:
                responses = await admin.describe_consumer_groups([group])
            except GroupCoordinatorNotAvailableError:  # the group is not there yet (its first member still joins)
                responses = []
            described = [g for response in responses for g in response.groups]
            if any(g[2] == "Stable" and len(g[5]) == members for g in described):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"consumer group {group} not stable with {members} members in {GROUP_STABLE_TIMEOUT_S} s")
    finally:
        await admin.close()


async def _upload_until_completed(
    http: Any, key: str, data: bytes, timeline: Stages, stages: bool
) -> tuple[float, float, float]:
    """Upload, then poll as a user does: (seconds until completed, seconds until the 202, CPU until the 202)."""
    if stages:
        timeline.begin()
    started, started_cpu = time.perf_counter(), time.process_time()
    answer = await http.post("/v1/imports", files={"file": ("bench.xlsx", data)}, headers={"X-API-Key": key})
    accepted, accepted_cpu = time.perf_counter() - started, time.process_time() - started_cpu
    if stages:
        timeline.mark("202 answered")
    status_url, headers = answer.json()["status_url"], {"X-API-Key": key}
    done = {"completed", "completed_with_errors"}
    processed = 0
    while True:  # as a user polls
        status = (await http.get(status_url, headers=headers)).json()
        if stages and status["orders_processed"] != processed:
            processed = status["orders_processed"]
            timeline.mark(f"  {processed:,} of {status['orders']:,} orders processed, seen by the client")
        if status["state"] in done:
            break
        await asyncio.sleep(0.02)
    seconds = time.perf_counter() - started
    if stages:
        timeline.mark("completed seen by the client")
    return seconds, accepted, accepted_cpu


async def run(shared: bool = False, stages: bool = False, consumers: int = 0, warm: bool = True) -> ImportFigures:
    base = IngestSettings()
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    async with scratch_database(base.database_url, "bench") as url:
        settings = base.model_copy(update={"database_url": url, "topic_prefix": prefix})
        pool = await create_pool(url, max_size=6)
        try:
            return await import_to_completed(settings, pool, 5000, shared, stages, consumers, warm)
        finally:
            await pool.close()
            await delete_topics_with_prefix(settings.kafka_bootstrap_servers, prefix)


def main() -> None:
    import statistics
    import sys

    if sys.argv[1:] == [SERVE_CONSUMER]:
        sys.exit(serve_consumer())

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="imports, each into a database of its own (median)")
    parser.add_argument("--shared-strings", action="store_true", help="texts as shared strings, as Excel writes")
    parser.add_argument("--stages", action="store_true", help="print each stage's wall and CPU time")
    parser.add_argument("--consumers", type=int, default=0, help="consumer processes (0: one consumer in process)")
    parser.add_argument("--cold", action="store_true", help="no warm-up import: the processes' first work is timed")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    found = [
        asyncio.run(run(args.shared_strings, args.stages, args.consumers, not args.cold)) for _ in range(args.runs)
    ]
    print(f"import benchmark ({os.cpu_count()} cores, Python {platform.python_version()}, local stack)")
    kind = "shared strings" if args.shared_strings else "inline strings"
    kind += f", {args.consumers} consumer processes" if args.consumers else ", consumer in process"
    kind += ", cold" if args.cold else ""
    shown, median = ", ".join(f"{f.seconds:.2f}" for f in found), statistics.median(f.seconds for f in found)
    print(f"  5,000-row .xlsx ({kind}): upload -> completed   median {median:.2f} s ({shown})")
    consumer = [f.consumer_cpu_s for f in found if f.consumer_cpu_s is not None]
    print(
        f"  median CPU: upload to the 202 {statistics.median(f.upload_cpu_s for f in found):.2f} s, this process to"
        f" completed {statistics.median(f.process_cpu_s for f in found):.2f} s"
        + (f", consumer processes {statistics.median(consumer):.2f} s" if consumer else "")
        + f", PostgreSQL {statistics.median(f.postgres_cpu_s for f in found):.2f} s"
    )


if __name__ == "__main__":
    main()
