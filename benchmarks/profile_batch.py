"""Where one batch of 1,000 orders goes: CPU per stage of `ingest_batch`, round trips, in process.

    python -m benchmarks.profile_batch [--orders 1000] [--batches 5] [--cprofile]

A scratch database of its own (dropped afterwards). Each stage is measured by wrapping the functions
`ingest_batch` calls (this process's CPU, per order, in µs: robust on a shared machine, where wall time is not).
The PostgreSQL figure is the CPU of this connection's backend (/proc), not of the whole server; round trips are
the statements sent on the connection. The first batches create orders, the last one redelivers the first (all
unchanged). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.bench_ingest import order_dict
from services.ingest.adapters.tenants import create_tenant
from services.ingest.application import ingestion
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.main import ingest_options
from services.ingest.settings import IngestSettings
from services.platform.database import create_pool, scratch_database
from services.rules_bridge import outbox_writer as outbox

STAGES: dict[str, float] = defaultdict(float)  # CPU seconds of this process per stage (waits on PostgreSQL excluded)


def _timed(owner: Any, name: str, label: str) -> None:
    original = getattr(owner, name)

    if asyncio.iscoroutinefunction(original):

        async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
            began = time.process_time()
            try:
                return await original(*args, **kwargs)
            finally:
                STAGES[label] += time.process_time() - began

        setattr(owner, name, wrapper_async)
        return

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            STAGES[label] += time.process_time() - began

    setattr(owner, name, wrapper)


def instrument(stages: list[tuple[Any, str, str]]) -> None:
    for owner, name, label in stages:
        if hasattr(owner, name):
            _timed(owner, name, label)


def backend_ns(pid: int) -> int:
    """Nanoseconds one PostgreSQL backend has run on a CPU (/proc/PID/schedstat: finer than /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def statement_names() -> dict[str, str]:
    """The SQL text of every named statement of the hot path's modules -> its name."""
    from services.ingest.adapters import sql as ingest_sql
    from services.rules_bridge.adapters import sql as bridge_sql

    return {
        text: name
        for module in (ingest_sql, bridge_sql)
        for name, text in vars(module).items()
        if name.isupper() and isinstance(text, str)
    }


class CountingConn:
    """Counts the statements sent on a connection (a round trip each), and the backend's CPU per statement."""

    def __init__(self, conn: Any, backend: int | None = None) -> None:
        self.conn, self.statements, self.backend = conn, 0, backend
        self.cpu_ns: dict[str, int] = defaultdict(int)
        self.names = statement_names()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.conn, name)
        if name in {"execute", "fetch", "fetchval", "fetchrow", "executemany", "copy_records_to_table"}:

            async def counted(*args: Any, **kwargs: Any) -> Any:
                self.statements += 1
                if self.backend is None:
                    return await attr(*args, **kwargs)
                began = backend_ns(self.backend)
                try:
                    return await attr(*args, **kwargs)
                finally:
                    query = args[0] if args and isinstance(args[0], str) else name
                    label = self.names.get(query) or " ".join(query.split())[:40]
                    self.cpu_ns[label] += backend_ns(self.backend) - began

            return counted
        return attr


def records(tenant: Any, first: int, count: int, customers: int) -> list[ingestion.Received]:
    out = []
    for n, i in enumerate(range(first, first + count)):
        value = json.dumps(order_dict(tenant, i, customers)).encode()
        out.append(ingestion.Received(n, "bench", 0, i, message_key(tenant, f"B{i:08d}"), value))
    return out


async def run(
    orders: int, batches: int, profile: bool, stages: list[tuple[Any, str, str]], profile_redelivered: bool = False
) -> None:
    base = IngestSettings()
    instrument(stages)
    async with scratch_database(base.database_url, "profile") as url:
        pool = await create_pool(url, max_size=2)
        try:
            async with pool.acquire() as conn:
                tenant, _ = await create_tenant(conn, "profile")
            options = ingest_options(base)
            customers = max(1, orders * batches * 3 // 10)
            work = [records(tenant.id, b * orders, orders, customers) for b in range(batches)]
            work.append(work[0])  # a redelivery: all unchanged
            profiler = cProfile.Profile() if profile else None
            for n, batch in enumerate(work):
                STAGES.clear()
                async with pool.acquire() as raw:
                    backend = await raw.fetchval("SELECT pg_backend_pid()")
                    conn = CountingConn(raw, backend)
                    pg_began, began, cpu_began = backend_ns(backend), time.perf_counter(), time.process_time()
                    if profiler is not None and n == (batches if profile_redelivered else batches - 1):
                        profiler.enable()
                    await ingestion.ingest_batch(conn, batch, outbox.emit_events, options)
                    if profiler is not None:
                        profiler.disable()
                    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
                    pg = (backend_ns(backend) - pg_began) / 1e9
                kind = "redelivered" if n == batches else "created"
                print(
                    f"batch {n} ({kind}): wall {seconds * 1e6 / orders:.0f} µs per order; CPU per order: consumer "
                    f"{cpu * 1e6 / orders:.0f} µs, PostgreSQL backend {pg * 1e6 / orders:.0f} µs; "
                    f"{conn.statements} statements"
                )
                for label, spent in sorted(STAGES.items(), key=lambda x: -x[1]):
                    print(f"    {label:<32} {spent * 1e6 / orders:>7.0f} µs CPU per order")
                print("    PostgreSQL backend CPU per statement (transaction control included):")
                for label, ns in sorted(conn.cpu_ns.items(), key=lambda x: -x[1]):
                    if ns * 1e-3 / orders >= 0.5:
                        print(f"      {label:<40} {ns * 1e-3 / orders:>7.1f} µs per order")
            if profiler is not None:
                lines = int(os.environ.get("PROFILE_LINES", "45"))
                pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(lines)
        finally:
            await pool.close()


def default_stages() -> list[tuple[Any, str, str]]:
    from services.ingest.adapters import import_jobs, order_store
    from services.rules_bridge.domain import events

    return [
        (ingestion, "decode", "decode (validate)"),
        (ingestion, "_check_claims", "check tenants/imports"),
        (order_store, "load_stored", "load + lock orders"),
        (order_store, "load_customer_index", "load customers"),
        (ingestion, "plan_round", "plan"),
        (order_store, "write_plan", "write plan"),
        (order_store, "refresh_personas", "persona refresh"),
        (ingestion, "fold_personas", "persona fold (own transaction)"),
        # `emit_events` calls the shaping functions of `domain.events` (not `outbox_writer`'s wrappers of them)
        (events, "order_events", "shape order events"),
        (events, "customer_updated", "shape customer events (within the fold)"),
        (outbox, "enqueue", "outbox insert"),
        (import_jobs, "count_results", "import counters"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--cprofile", action="store_true", help="profile the last created batch")
    parser.add_argument("--cprofile-redelivered", action="store_true", help="profile the redelivered batch instead")
    parser.add_argument(
        "--default-gc", action="store_true", help="keep the collector's defaults (the consumer tunes it)"
    )
    args = parser.parse_args()
    if not args.default_gc:
        from services.ingest.main import tune_collector

        tune_collector()
    profile = args.cprofile or args.cprofile_redelivered
    asyncio.run(run(args.orders, args.batches, profile, default_stages(), args.cprofile_redelivered))


if __name__ == "__main__":
    main()
