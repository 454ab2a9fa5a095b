"""Load: several tenants upload big files at once through the HTTP API (a uvicorn subprocess) while a consumer and
a relay process work; reports throughput, latencies and every error, and counts deadlocks retried internally.

`python -m tools.verification.load --tenants 4 --rows 5000` runs it on the local stack, in a fresh database
and topic prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.ingest.adapters.tenants import create_tenant
from services.platform.database import create_pool
from services.platform.settings import ConnectionSettings
from services.platform.topics import delete_topics_with_prefix
from tools.samples import sample_rows, write_sample_xlsx
from tools.verification.checks import ScenarioTimeout, eventually
from tools.verification.env import VerifyEnv, ensure_all_topics, fresh_database, scoped
from tools.verification.processes import ProcessGroup, ServiceProcess, service_env

FINAL = {"completed", "completed_with_errors", "failed"}
LINES_PER_ORDER = 2


@dataclass
class LoadReport:
    tenants: int
    rows_per_file: int
    rows: int = 0
    orders: int = 0
    upload_latencies_s: list[float] = field(default_factory=list)
    import_latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    events_drained_s: float = 0.0
    http_errors: list[str] = field(default_factory=list)
    import_errors: list[str] = field(default_factory=list)
    transient_retries: int = 0
    deadlocks_retried: int = 0

    @property
    def ok(self) -> bool:
        return not self.http_errors and not self.import_errors

    def lines(self) -> list[str]:
        def stats(values: list[float]) -> str:
            if not values:
                return "-"
            return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"

        return [
            f"load: {self.tenants} tenants x {self.rows_per_file} rows ({self.rows} rows, {self.orders} orders)",
            f"  throughput: {self.rows / self.wall_s:.0f} rows/s, {self.orders / self.wall_s:.0f} orders/s "
            f"(all imports completed in {self.wall_s:.1f} s; events relayed by {self.events_drained_s:.1f} s)",
            f"  upload (POST -> 202) latency: {stats(self.upload_latencies_s)}",
            f"  import (POST -> completed) latency: {stats(self.import_latencies_s)}",
            f"  HTTP errors: {len(self.http_errors)}; import errors: {len(self.import_errors)}",
            f"  consumer transient retries: {self.transient_retries} (deadlocks among them: {self.deadlocks_retried})",
            *[f"  error: {e}" for e in (self.http_errors + self.import_errors)[:10]],
        ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api(group: ProcessGroup, settings: ConnectionSettings, port: int) -> ServiceProcess:
    env = service_env(settings, {"ORDERINFO_HTTP_PORT": str(port)})
    return group.spawn("api", ["services.cli", "api"], env)


async def _upload(client: httpx.AsyncClient, key: str, path: Path, report: LoadReport) -> None:
    started = time.monotonic()
    with path.open("rb") as handle:
        response = await client.post("/v1/imports", headers={"X-API-Key": key}, files={"file": (path.name, handle)})
    report.upload_latencies_s.append(time.monotonic() - started)
    if response.status_code != 202:
        report.http_errors.append(f"upload {path.name}: {response.status_code} {response.text[:200]}")
        return
    status_url = response.json()["status_url"]

    async def status() -> dict[str, Any]:
        answer = await client.get(status_url, headers={"X-API-Key": key})
        if answer.status_code != 200:
            report.http_errors.append(f"status: {answer.status_code} {answer.text[:200]}")
            return {"state": "failed"}
        return dict(answer.json())

    job = await eventually(status, lambda j: j["state"] in FINAL, 600, f"import {path.name} completed", 0.25)
    report.import_latencies_s.append(time.monotonic() - started)
    report.orders += job["orders_processed"]
    if job["state"] != "completed" or job["invalid_rows"] or job["dead_lettered"]:
        report.import_errors.append(
            f"{path.name}: {job['state']}, {job['invalid_rows']} invalid rows, "
            f"{job['dead_lettered']} dead letters, failure {job['failure']}"
        )


async def run_load(env: VerifyEnv, tenants: int, rows: int) -> LoadReport:
    """Upload `tenants` files of `rows` rows at once; wait for every import and for the outbox to drain."""
    report = LoadReport(tenants, rows)
    settings = scoped(env.shared, "load")
    await ensure_all_topics(settings)
    files = []
    for i in range(tenants):
        path = env.workdir / f"load-{i}.xlsx"
        await asyncio.to_thread(write_sample_xlsx, path, sample_rows(rows // LINES_PER_ORDER, LINES_PER_ORDER, seed=i))
        files.append(path)
    report.rows = tenants * (rows // LINES_PER_ORDER) * LINES_PER_ORDER
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    port = _free_port()
    with env.processes() as group:
        try:
            keys = []
            async with pool.acquire() as conn:
                for i in range(tenants):
                    keys.append((await create_tenant(conn, f"load tenant {i}"))[1])
            consumer = env.consumer(group, settings)
            env.relay(group, settings)
            _api(group, settings, port)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
                await eventually(_ready(client), bool, 60, "the API answering /healthz", 0.2)
                started = time.monotonic()
                await asyncio.gather(*[_upload(client, k, f, report) for k, f in zip(keys, files, strict=True)])
                report.wall_s = time.monotonic() - started
                await eventually(_unsent(pool), lambda n: n == 0, 300, "the outbox drained", 0.25)
                report.events_drained_s = time.monotonic() - started
            log = consumer.log.read_text(errors="replace")
            report.transient_retries = log.count("transient failure")
            report.deadlocks_retried = log.count("DeadlockDetectedError")
        finally:
            await pool.close()
    return report


def _ready(client: httpx.AsyncClient) -> Any:
    async def probe() -> bool:
        try:
            return (await client.get("/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    return probe


def _unsent(pool: Any) -> Any:
    async def probe() -> int:
        return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))

    return probe


async def main_async(tenants: int, rows: int) -> LoadReport:
    base = ConnectionSettings().model_copy(
        update={"topic_prefix": f"load-{uuid.uuid4().hex[:6]}.", "topic_partitions": 6}
    )
    async with fresh_database(base.database_url) as url:
        env = VerifyEnv(base.model_copy(update={"database_url": url}), Path(tempfile.mkdtemp(prefix="orderinfo-load-")))
        try:
            return await run_load(env, tenants, rows)
        finally:
            await delete_topics_with_prefix(base.kafka_bootstrap_servers, base.topic_prefix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.verification.load", description=__doc__)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args(argv)
    try:
        report = asyncio.run(main_async(args.tenants, args.rows))
    except ScenarioTimeout as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
