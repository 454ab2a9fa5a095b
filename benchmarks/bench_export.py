"""Export benchmark: `GET /v1/orders/export` of a whole large tenant, CSV and .xlsx, from the real API served by uvicorn
in this process (httpx's in-process transport would hold the whole body), read as a stream.

    python -m benchmarks.bench_export --database-url postgresql://.../orderinfo_queries_bench1m [--orders 1000000]

Reuses (or seeds) the tenant `bench_queries` uses (see there: point it at a database of its own and keep it). For
each format: seconds to the last byte, bytes, rows, and the process's resident memory (peak and growth during the
export) sampled every 50 ms: the export is streamed, so memory should stay flat whatever the size.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

from benchmarks.bench_console import free_port
from benchmarks.bench_queries import tenant_with_orders
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.database import open_database
from services.platform.topics import delete_topics_with_prefix
from tools.verification.checks import eventually


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def export(client: httpx.AsyncClient, fmt: str) -> None:
    before, peak, size, newlines = rss_mib(), 0.0, 0, 0
    started = time.perf_counter()
    last_sample = 0.0
    async with client.stream("GET", "/v1/orders/export", params={"format": fmt}) as answer:
        answer.raise_for_status()
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            newlines += chunk.count(b"\n") if fmt == "csv" else 0
            now = time.perf_counter()
            if now - last_sample > 0.05:
                peak, last_sample = max(peak, rss_mib()), now
    seconds = time.perf_counter() - started
    rows = f", {newlines - 1:,} rows" if fmt == "csv" else ""
    print(
        f"export {fmt}: {seconds:.1f} s, {size / 2**20:.0f} MiB{rows}; resident memory {before:.0f} MiB before,"
        f" peak {max(peak, rss_mib()):.0f} MiB (+{max(peak, rss_mib()) - before:.0f})",
        flush=True,
    )


async def run(args: argparse.Namespace) -> None:
    settings = IngestSettings(**({"database_url": args.database_url} if args.database_url else {}))
    pool = await open_database(settings.database_url, max_size=4)
    try:
        _, key = await tenant_with_orders(pool, args.tenant_name, args.orders, 0)
    finally:
        await pool.close()
    app = create_app(settings.model_copy(update={"topic_prefix": f"be{uuid.uuid4().hex[:6]}."}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), bool, 60, "the API started", 0.05)
    try:
        url, headers = f"http://127.0.0.1:{port}", {"X-API-Key": key}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=None) as client:
            for fmt in args.formats.split(","):
                await export(client, fmt)
    finally:
        server.should_exit = True
        await serving
        await delete_topics_with_prefix(app.state.settings.kafka_bootstrap_servers, app.state.settings.topic_prefix)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak resident memory (ru_maxrss): {peak:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--tenant-name", default="bench")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--database-url", default=None, help="default: ORDERINFO_DATABASE_URL / the local stack")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
