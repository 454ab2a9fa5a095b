"""The yardstick a user would pick instead: Apache Kafka Connect with the Debezium JDBC sink, on the same machine.

    python -m benchmarks.bench_connect [--orders 100000] [--partitions 6] [--tasks 1 2]

Kafka Connect (standalone worker) and the Debezium JDBC sink are resolved from Maven Central once, into
~/.cache/orderinfo/connect (the sink in a plugin folder of its own, loaded in isolation as users deploy it). The
workload is the consumer bench's (`order_dict`: N orders x 2 lines, 30 % as many customers), shaped as flat
JSON-with-schema records on three topics of a prefix of its own: orders (keyed by tenant + order number), order
lines (keyed by tenant + order number + line number) and customers (keyed by tenant + mobile, one record per order,
as a pipeline that takes the buyer from each order would emit them). The sink upserts them (`insert.mode=upsert`,
primary key from the record key, tables created by the sink) into a scratch PostgreSQL database; sink settings are
Debezium's defaults otherwise. Each case is a fresh worker with fresh connectors (consumer groups) and fresh tables:
- order headers only, 1 task, then 2 tasks (rows/s);
- the three connectors, 1 task each, then 2 tasks each (orders/s: every order, line and customer present).
Time runs from the connector's tasks RUNNING (REST status) to every row present (count(*) polled, with a deadline);
the rate from the first row stored is printed too (the consumer bench's basis). CPU: user + system time of the
worker's JVM and of the PostgreSQL backends connected to the bench's database (the bench's own polling connection
excluded) over the same window. Figures are printed, never asserted. A jar that cannot be resolved ends the bench
with the artifact named (`ResolveError`); `benchmarks.run` then skips the step.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer

from benchmarks.bench_consumer import cpu_seconds, free_port, process_cpu
from benchmarks.bench_ingest import CUSTOMERS_PER_100K, order_dict
from services.platform.database import scratch_database
from services.platform.stack import kafka
from services.platform.stack.maven import Artifact, copy_dependencies, is_complete, pom
from services.platform.stack.settings import StackSettings
from services.platform.topics import TopicSpec, delete_topics_with_prefix, ensure_topics

CONNECT_VERSION = "4.1.1"
# Debezium's 3.6.1.Final is the release to take for the rest of Debezium, but Maven Central serves no
# debezium-connector-jdbc of it (nor of 3.3.2.Final): 3.3.1.Final is the newest 3.3 it serves, issue 15's version.
DEBEZIUM_VERSION = "3.3.1.Final"
RUNTIME = (
    Artifact("org.apache.kafka", "connect-runtime", CONNECT_VERSION),
    Artifact("org.apache.kafka", "connect-json", CONNECT_VERSION),
    Artifact("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3"),  # connect-runtime has no slf4j binding
)
# Jackson is the worker's: a second copy in the plugin's class loader breaks Hibernate's module lookup (the worker's
# jackson-datatype-jdk8 is then "not a subtype" of the plugin's Module), so the plugin takes the worker's.
SINK = (
    Artifact("io.debezium", "debezium-connector-jdbc", DEBEZIUM_VERSION, exclude=("com.fasterxml.jackson.core:*",)),
    Artifact("org.postgresql", "postgresql", "42.7.8"),
)
KINDS = ("orders", "order_lines", "customers")
DEADLINE = 900.0

# --- record shaping (pure) -------------------------------------------------------------------------------------

_TIMESTAMP = {"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1}


def _decimal(scale: int) -> dict[str, Any]:
    name = "org.apache.kafka.connect.data.Decimal"
    return {"type": "bytes", "name": name, "version": 1, "parameters": {"scale": str(scale)}}


def _struct(name: str, fields: dict[str, dict[str, Any] | str]) -> dict[str, Any]:
    return {
        "type": "struct",
        "name": name,
        "optional": False,
        "fields": [
            {"field": f, **({"type": t} if isinstance(t, str) else t), "optional": False} for f, t in fields.items()
        ],
    }


_MONEY = _decimal(2)
SCHEMAS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "orders": (
        _struct("order_key", {"tenant_id": "string", "order_no": "string"}),
        _struct(
            "order",
            {
                "tenant_id": "string",
                "order_no": "string",
                "source": "string",
                "status": "string",
                "status_raw": "string",
                "order_time": _TIMESTAMP,
                "payment_time": _TIMESTAMP,
                "store_no": "string",
                "store_name": "string",
                "buyer_mobile": "string",
                "buyer_nickname": "string",
                "order_amount": _MONEY,
                "paid_amount": _MONEY,
            },
        ),
    ),
    "order_lines": (
        _struct("order_line_key", {"tenant_id": "string", "order_no": "string", "line_no": "int32"}),
        _struct(
            "order_line",
            {
                "tenant_id": "string",
                "order_no": "string",
                "line_no": "int32",
                "product_id": "string",
                "sku": "string",
                "product_name": "string",
                "quantity": "int32",
                "unit_price": _MONEY,
            },
        ),
    ),
    "customers": (
        _struct("customer_key", {"tenant_id": "string", "mobile": "string"}),
        _struct(
            "customer",
            {
                "tenant_id": "string",
                "mobile": "string",
                "nickname": "string",
                "last_order_no": "string",
                "last_order_time": _TIMESTAMP,
            },
        ),
    ),
}
_SCHEMA_JSON = {kind: tuple(json.dumps(s, separators=(",", ":")) for s in pair) for kind, pair in SCHEMAS.items()}


def decimal_bytes(amount: str, scale: int) -> str:
    """A Connect `Decimal` as JsonConverter reads it: the unscaled value, big-endian two's complement, base64."""
    unscaled = int(Decimal(amount).scaleb(scale).to_integral_exact())
    size = max(1, (unscaled.bit_length() + 8) // 8)
    return base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode()


def _millis(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def flat_records(order: dict[str, Any]) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """One order of the workload as (key, value) payloads per topic kind: its header, its lines, its buyer."""
    tenant, number, buyer = order["tenant_id"], order["order_no"], order["buyer"]
    header = {
        "tenant_id": tenant,
        "order_no": number,
        "source": order["source"],
        "status": order["status"],
        "status_raw": order["status_raw"],
        "order_time": _millis(order["order_time"]),
        "payment_time": _millis(order["payment_time"]),
        "store_no": order["store"]["store_no"],
        "store_name": order["store"]["name"],
        "buyer_mobile": buyer["mobile"],
        "buyer_nickname": buyer["nickname"],
        "order_amount": decimal_bytes(order["order_amount"], 2),
        "paid_amount": decimal_bytes(order["paid_amount"], 2),
    }
    lines = [
        (
            {"tenant_id": tenant, "order_no": number, "line_no": n},
            {
                "tenant_id": tenant,
                "order_no": number,
                "line_no": n,
                "product_id": line["product_id"],
                "sku": line["sku"],
                "product_name": line["product_name"],
                "quantity": line["quantity"],
                "unit_price": decimal_bytes(line["unit_price"], 2),
            },
        )
        for n, line in enumerate(order["lines"], 1)
    ]
    customer = {
        "tenant_id": tenant,
        "mobile": buyer["mobile"],
        "nickname": buyer["nickname"],
        "last_order_no": number,
        "last_order_time": header["order_time"],
    }
    return {
        "orders": [({"tenant_id": tenant, "order_no": number}, header)],
        "order_lines": lines,
        "customers": [({"tenant_id": tenant, "mobile": buyer["mobile"]}, customer)],
    }


def with_schema(kind: str, key: dict[str, Any], value: dict[str, Any]) -> tuple[bytes, bytes]:
    """The record as JsonConverter with `schemas.enable=true` reads it: {"schema": ..., "payload": ...}."""
    key_schema, value_schema = _SCHEMA_JSON[kind]
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    return (
        f'{{"schema":{key_schema},"payload":{dumps(key)}}}'.encode(),
        f'{{"schema":{value_schema},"payload":{dumps(value)}}}'.encode(),
    )


def workload(tenant_id: UUID, orders: int, customers: int) -> Iterator[tuple[str, bytes, bytes]]:
    for i in range(orders):
        for kind, pairs in flat_records(order_dict(tenant_id, i, customers)).items():
            for key, value in pairs:
                yield (kind, *with_schema(kind, key, value))


# --- Kafka Connect ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Jars:
    runtime: Path
    plugins: Path  # the worker's plugin.path: one folder per plugin


def resolve(settings: StackSettings) -> Jars:
    """Resolve Connect's runtime and the sink plugin into the cache once (raises `ResolveError` naming the
    artifact that Maven Central did not serve)."""
    cache = settings.jar_cache.parent / "connect"
    runtime = cache / f"runtime-{CONNECT_VERSION}"
    plugin = cache / "plugins" / f"debezium-connector-jdbc-{DEBEZIUM_VERSION}"
    for target, artifacts in ((runtime, RUNTIME), (plugin, SINK)):
        text = pom(target.name, artifacts)
        if not is_complete(target, text):
            print(f"resolving {', '.join(map(str, artifacts))} from Maven Central into {target} ...", flush=True)
        copy_dependencies(text, target, stamp=text, check=_has(artifacts[0]))
    return Jars(runtime, plugin.parent)


def _has(artifact: Artifact) -> Callable[[Path, str], str | None]:
    def check(folder: Path, output: str) -> str | None:
        if (folder / f"{artifact.name}-{artifact.version}.jar").exists():
            return None
        return f"{artifact} was not copied:\n{output[-2000:]}"

    return check


def worker_properties(bootstrap: str, plugins: Path, offsets: Path, port: int) -> str:
    lines = {
        "bootstrap.servers": bootstrap,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter.schemas.enable": "true",
        "offset.storage.file.filename": str(offsets),
        "plugin.path": str(plugins),
        "listeners": f"http://127.0.0.1:{port}",
    }
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def sink_properties(name: str, topic: str, table_suffix: str, tasks: int, database_url: str) -> str:
    url = urlsplit(database_url)
    lines = {
        "name": name,
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": str(tasks),
        "topics": topic,
        "connection.url": f"jdbc:postgresql://{url.hostname}:{url.port or 5432}{url.path}",
        "connection.username": url.username or "postgres",
        "insert.mode": "upsert",
        "primary.key.mode": "record_key",
        "schema.evolution": "basic",
        "collection.name.format": "${topic}" + table_suffix,
    }
    if url.password:
        lines["connection.password"] = url.password
    return "".join(f"{k}={v}\n" for k, v in lines.items())


class Worker:
    """One standalone Connect worker (a JVM of its own) running `connectors`; stopped on exit."""

    def __init__(self, jars: Jars, folder: Path, bootstrap: str, connectors: dict[str, str]) -> None:
        self.port = free_port()
        self.log = folder / "connect.log"
        config = folder / "worker.properties"
        config.write_text(worker_properties(bootstrap, jars.plugins, folder / "offsets", self.port))
        files = []
        for name, text in connectors.items():
            files.append(folder / f"{name}.properties")
            files[-1].write_text(text)
        self.names = list(connectors)
        self.argv = [
            "java",
            "-Xms256m",
            "-Xmx2g",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={Path(kafka.__file__).parent / 'kafka-log4j2.yaml'}",
            "-cp",
            f"{jars.runtime}/*",
            "org.apache.kafka.connect.cli.ConnectStandalone",
            str(config),
            *map(str, files),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _status(self, name: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/connectors/{name}/status", timeout=5) as r:
                found: dict[str, Any] = json.load(r)
                return found
        except OSError:
            return None

    async def running(self, tasks: int) -> None:
        """Until every connector and its `tasks` tasks are RUNNING; a FAILED one or an exited JVM raises."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the Connect worker exited ({self.proc.returncode}); log: {self.log}")
            states = [await asyncio.to_thread(self._status, name) for name in self.names]
            for state in filter(None, states):
                failed = [t for t in state.get("tasks", []) if t.get("state") == "FAILED"]
                if state["connector"]["state"] == "FAILED" or failed:
                    trace = (failed or [state["connector"]])[0].get("trace", "")
                    raise RuntimeError(f"connector {state['name']} failed:\n{trace[:3000]}")
            if all(
                s and s["connector"]["state"] == "RUNNING" and [t["state"] for t in s["tasks"]] == ["RUNNING"] * tasks
                for s in states
            ):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the connectors did not start within 300 s; log: {self.log}")


# --- the cases -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One measured case: `orders` complete (their rows: headers, lines, customer upserts) in `seconds` from the
    tasks RUNNING (`from_first_row`: from the first row stored), CPU core-seconds of the JVM and the backends."""

    label: str
    tasks: int
    connectors: int
    orders: int
    rows: int
    seconds: float
    from_first_row: float
    jvm_cpu: float
    postgres_cpu: float

    @property
    def rate(self) -> float:
        """Orders per second (for headers only, = rows per second)."""
        return self.orders / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_1000(self) -> float:
        return (self.jvm_cpu + self.postgres_cpu) * 1000 / self.orders if self.orders else 0.0

    def line(self) -> str:
        per = max(self.orders, 1)
        return (
            f"  {self.label:<34} {self.rate:>8,.0f} orders/s ({self.rows / self.seconds:,.0f} rows/s;"
            f" {self.orders / self.from_first_row:,.0f} orders/s from the first row)   CPU {self.cpu_per_1000:.3f}"
            f" core-s per 1,000 (JVM {self.jvm_cpu * 1000 / per:.3f}, PostgreSQL {self.postgres_cpu * 1000 / per:.3f})"
        )


async def _count(conn: asyncpg.Connection, sql: str, *args: Any) -> int:
    try:
        return int(await conn.fetchval(sql, *args))
    except asyncpg.UndefinedTableError:  # the sink creates its table with the first batch
        return 0


async def _backends(conn: asyncpg.Connection) -> list[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [r["pid"] for r in rows]


async def measure(
    conn: asyncpg.Connection,
    jars: Jars,
    bootstrap: str,
    url: str,
    *,
    label: str,
    kinds: Sequence[str],
    tasks: int,
    prefix: str,
    suffix: str,
    orders: int,
    customers: int,
) -> Case:
    """Start a worker with one sink per topic kind, time it from its tasks RUNNING until every row is stored."""
    tables = {kind: f"{prefix}{kind}{suffix}" for kind in kinds}
    wanted = {"orders": orders, "order_lines": 2 * orders, "customers": customers}
    latest = f"B{orders - customers:08d}"  # every customer's last order is among the last `customers` orders
    queries = {
        kind: (f"SELECT count(*) FROM {table} WHERE last_order_no >= $1", latest)
        if kind == "customers"
        else (f"SELECT count(*) FROM {table}",)
        for kind, table in tables.items()
    }
    connectors = {
        f"{prefix}{kind}{suffix}": sink_properties(f"{prefix}{kind}{suffix}", f"{prefix}{kind}", suffix, tasks, url)
        for kind in kinds
    }
    with (
        tempfile.TemporaryDirectory(prefix="orderinfo-connect-") as folder,
        Worker(jars, Path(folder), bootstrap, connectors) as worker,
    ):
        await worker.running(tasks)
        began = time.perf_counter()
        jvm, backends = cpu_seconds([worker.pid]), process_cpu(await _backends(conn))
        deadline, first, done = time.monotonic() + DEADLINE, None, False
        while not done:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{label}: not every row stored within {DEADLINE:.0f} s; log: {worker.log}")
            await asyncio.sleep(0.25)
            counts = {kind: await _count(conn, *query) for kind, query in queries.items()}
            if first is None and any(counts.values()):
                first = time.perf_counter()
            done = all(counts[kind] >= wanted[kind] for kind in kinds)
        seconds = time.perf_counter() - began
        jvm = cpu_seconds([worker.pid]) - jvm
        pg = sum(cpu - backends.get(pid, 0.0) for pid, cpu in process_cpu(await _backends(conn)).items())
    rows = sum(orders if k == "customers" else wanted[k] for k in kinds)  # one customer record per order
    return Case(label, tasks, len(kinds), orders, rows, seconds, seconds - ((first or began) - began), jvm, pg)


async def publish(bootstrap: str, prefix: str, orders: int, customers: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        futures = [
            await producer.send(f"{prefix}{kind}", value, key=key)
            for kind, key, value in workload(uuid.uuid4(), orders, customers)
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def run(orders: int, partitions: int, tasks: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """Every case, in one scratch database and one topic prefix (both dropped afterwards)."""
    stack = StackSettings()
    jars = resolve(stack)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", stack.kafka_bootstrap)
    server = os.environ.get("DATABASE_URL", "postgresql://orderinfo@127.0.0.1:15432/orderinfo")
    prefix = f"cb{uuid.uuid4().hex[:6]}_"  # no dots: the sink names its tables after the topics
    customers = max(1, orders * CUSTOMERS_PER_100K // 100_000)
    cases: list[Case] = []
    async with scratch_database(server, "connect") as url:
        try:
            await ensure_topics(bootstrap, [TopicSpec(f"{prefix}{kind}", partitions) for kind in KINDS], partitions)
            await publish(bootstrap, prefix, orders, customers)
            conn = await asyncpg.connect(url)
            try:
                plan = [("order headers", ("orders",)), ("3 connectors", KINDS)]
                for what, kinds in plan:
                    for n in tasks:
                        label = f"{what}, {n} task{'s' if n > 1 else ''}{' each' if len(kinds) > 1 else ''}"
                        case = await measure(
                            conn,
                            jars,
                            bootstrap,
                            url,
                            label=label,
                            kinds=kinds,
                            tasks=n,
                            prefix=prefix,
                            suffix=f"_r{len(cases) + 1}",
                            orders=orders,
                            customers=customers,
                        )
                        print(case.line(), flush=True)
                        cases.append(case)
            finally:
                await conn.close()
        finally:
            await delete_topics_with_prefix(bootstrap, prefix)
    return {"connect": CONNECT_VERSION, "debezium_jdbc": DEBEZIUM_VERSION, "partitions": partitions, "cases": cases}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    customers = CUSTOMERS_PER_100K * args.orders // 100_000
    print(
        f"Kafka Connect {CONNECT_VERSION} + Debezium JDBC sink {DEBEZIUM_VERSION} (upsert): {args.orders:,} orders"
        f" x 2 lines, {customers:,} customers, {args.partitions} partitions ({os.cpu_count()} cores,"
        f" {platform.python_implementation()} {platform.python_version()} driving, local stack)",
        flush=True,
    )
    asyncio.run(run(args.orders, args.partitions, args.tasks))


if __name__ == "__main__":
    main()
