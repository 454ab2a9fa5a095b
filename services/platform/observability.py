"""Health, readiness and Prometheus metrics for every process.

Nothing is registered at import: each composition root builds one `Metrics` (its own `CollectorRegistry`) and
serves it, the API through `health_router` + `RequestMetrics`, the consumer and the relay through `serve_ops`.
Gauges that mirror state owned elsewhere (consumer lag, outbox backlog) are read through callbacks at scrape time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import uvicorn
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel

log = logging.getLogger("orderinfo.observability")

Check = Callable[[], Awaitable[object]]  # raises (or times out) when the dependency is not usable
# (partition -> records behind the end, as the broker sees it; age in seconds of that reading, None: none yet)
GroupLagSource = Callable[[], tuple[Mapping[int, int], float | None]]
PROBLEM_JSON = "application/problem+json"
CHECK_TIMEOUT_S = 2.0
READINESS_TTL_S = 1.0  # /readyz reuses a result this long: anonymous bursts cost one check, not one each
# Request labels take only bounded values: methods outside the standard set count as `other`, and past
# `MAX_ROUTE_LABELS` distinct route templates (unmatched paths are all `unmatched`) new ones count as `other`.
STANDARD_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
MAX_ROUTE_LABELS = 200
_BATCH_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000)


class _Outcome(Protocol):
    outcome: str


class BatchResultLike(Protocol):
    """What `observe_batch` reads of `services.ingest.application.ingestion.BatchResult`."""

    @property
    def outcomes(self) -> list[Any]: ...
    @property
    def rejected(self) -> list[Any]: ...
    @property
    def events(self) -> int: ...


class Process(StrEnum):
    """Which process a family belongs to: each process exports its own families only."""

    API = "api"
    CONSUME = "consume"
    RELAY = "relay"


class Metrics:
    """The metrics of one process, on a registry of its own (so tests and processes never share state).

    `process` picks the families exported: the API's (requests, imports), the consumer's (batches, outcomes, dead
    letters, retries, splits, restarts, the group's lag) or the relay's (see `track_relay`). The other families
    still exist, unregistered, so every `observe_*` works in every process and exports nothing there. `None`
    exports them all (tests that check names across processes)."""

    def __init__(self, namespace: str = "orderinfo", process: Process | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.process = process
        api, consume, ns = self._registry_of(Process.API), self._registry_of(Process.CONSUME), namespace
        self.requests = Counter(
            "http_requests", "HTTP requests", ["method", "route", "status"], namespace=ns, registry=api
        )
        self.request_seconds = Histogram(
            "http_request_duration_seconds", "HTTP request duration", ["method", "route"], namespace=ns, registry=api
        )
        self.imports = Counter("imports", "Imports submitted, by state", ["state"], namespace=ns, registry=api)
        self.import_rows = Counter("import_rows", "Rows of submitted imports", ["validity"], namespace=ns, registry=api)
        self.batch_records = Histogram(
            "ingest_batch_records", "Records per consumed batch", namespace=ns, registry=consume, buckets=_BATCH_SIZES
        )
        self.batch_seconds = Histogram(
            "ingest_batch_duration_seconds", "Time to apply a batch", namespace=ns, registry=consume
        )
        self.orders = Counter(
            "ingest_orders", "Orders applied, by outcome", ["outcome"], namespace=ns, registry=consume
        )
        self.dead_letters = Counter(
            "ingest_dead_letters", "Records dead-lettered, by reason", ["reason"], namespace=ns, registry=consume
        )
        self.events = Counter("ingest_events", "Events written to the outbox", namespace=ns, registry=consume)
        retried = "Batch attempts retried after a transient storage failure, by kind"
        self.retries = Counter("ingest_retries", retried, ["kind"], namespace=ns, registry=consume)
        self.splits = Counter(
            "ingest_batch_splits",
            "Batches applied record by record after failing whole",
            namespace=ns,
            registry=consume,
        )
        self.restarts = Counter(
            "ingest_batch_restarts", "Batches rewound for redelivery, nothing committed", namespace=ns, registry=consume
        )
        for kind in ("unavailable", "conflict"):
            self.retries.labels(kind)  # exported at 0 from the start: a rate has a series to start from
        self._callbacks = _CallbackGauges(ns)
        self.registry.register(self._callbacks)
        self._routes: set[str] = set()

    def _registry_of(self, process: Process) -> CollectorRegistry | None:
        return self.registry if self.process in (None, process) else None

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request; `method` and `route` are bounded here (see `STANDARD_METHODS`, `MAX_ROUTE_LABELS`)."""
        method = method if method in STANDARD_METHODS else "other"
        if route not in self._routes:
            route = "other" if len(self._routes) >= MAX_ROUTE_LABELS else route
            self._routes.add(route)
        status_label = str(status) if 100 <= status <= 599 else "other"
        self.requests.labels(method, route, status_label).inc()
        self.request_seconds.labels(method, route).observe(seconds)

    def observe_import(self, state: str, valid_rows: int, invalid_rows: int) -> None:
        """One submitted import (call where the API accepts or rejects it)."""
        self.imports.labels(state).inc()
        self.import_rows.labels("valid").inc(valid_rows)
        self.import_rows.labels("invalid").inc(invalid_rows)

    def observe_batch(self, records: int, result: BatchResultLike, seconds: float | None = None) -> None:
        """One consumed batch, after its offsets were committed."""
        self.batch_records.observe(records)
        if seconds is not None:
            self.batch_seconds.observe(seconds)
        # counted first: a labelled child looked up per outcome cost ~5 % of a redelivered batch's consumer CPU
        for outcome, n in Tally(o.outcome for o in result.outcomes).items():
            self.orders.labels(outcome).inc(n)
        for reason, n in Tally(getattr(r, "reason", "unknown") for r in result.rejected).items():
            self.dead_letters.labels(reason).inc(n)
        self.events.inc(result.events)

    def observe_retry(self, kind: str) -> None:
        """One retried batch attempt: kind `unavailable` (database unreachable) or `conflict` (deadlock, ...)."""
        self.retries.labels(kind).inc()

    def observe_split(self) -> None:
        self.splits.inc()

    def observe_restart(self) -> None:
        self.restarts.inc()

    def track_group_lag(self, source: GroupLagSource) -> None:
        """Report `source()` (the consumer group's lag per partition, read from the broker, and the reading's age)
        as `consumer_group_lag{partition}` and `consumer_group_lag_age_seconds` at every scrape."""
        self._callbacks.lag = source

    def track_imports(self, source: Callable[[], ImportStates]) -> None:
        """Report `source()` (active imports by state, and those without progress for long) at every scrape."""
        self._callbacks.imports = source

    def track_outbox_backlog(self, source: Callable[[], int]) -> None:
        """Report `source()` (outbox rows not yet relayed) as the backlog gauge at every scrape."""
        self._callbacks.backlog = source

    def track_relay(self, source: Callable[[], RelayStatsLike]) -> None:
        """Report the relay's counters and outbox figures (`source()`, read at every scrape)."""
        self.registry.register(_RelayCollector(self._callbacks.namespace, source))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


PUBLISH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class LatencyHistogram:
    """Cumulative bucket counts of observed durations (Prometheus' histogram, kept by the process that owns the
    state and exported by a collector at scrape time)."""

    bounds: tuple[float, ...] = PUBLISH_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * len(PUBLISH_BUCKETS))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.count += 1

    def buckets(self) -> list[tuple[str, float]]:
        return [*((repr(b), float(c)) for b, c in zip(self.bounds, self.counts, strict=True)), ("+Inf", self.count)]


class RelayStatsLike(Protocol):
    """What `track_relay` reads of `services.rules_bridge.relay.RelayMetrics`."""

    published: int
    backlog: int
    owned_shards: int
    restarts: int
    failing_sessions: int
    producer_restarts: int
    parked_rows: int
    publish_latency: LatencyHistogram

    @property
    def parked(self) -> Mapping[str, int]: ...
    def oldest_unsent_age_s(self, *, owned: bool = False) -> float | None: ...


class _RelayCollector(Collector):
    """The relay's families: published and parked events, backlog and its oldest event's age, sessions."""

    def __init__(self, namespace: str, source: Callable[[], RelayStatsLike]) -> None:
        self.namespace, self.source = namespace, source

    def collect(self) -> Any:
        stats: RelayStatsLike | None = _safely(self.source, None)
        if stats is None:
            return
        ns = self.namespace
        yield CounterMetricFamily(f"{ns}_relay_published", "Events published and acknowledged", stats.published)
        parked = CounterMetricFamily(f"{ns}_relay_parked", "Events this relay parked, by reason", labels=["reason"])
        for reason, count in sorted(stats.parked.items()):
            parked.add_metric([reason], count)
        yield parked
        yield GaugeMetricFamily(f"{ns}_outbox_parked", "Outbox rows parked and not re-queued", stats.parked_rows)
        yield GaugeMetricFamily(
            f"{ns}_outbox_backlog", "Outbox rows not yet relayed (parked ones apart)", stats.backlog
        )
        age = stats.oldest_unsent_age_s()
        yield GaugeMetricFamily(
            f"{ns}_outbox_oldest_unsent_age_seconds", "Age of the oldest unsent event (0: none)", age or 0.0
        )
        yield CounterMetricFamily(f"{ns}_relay_restarts", "Relay sessions restarted after a failure", stats.restarts)
        yield GaugeMetricFamily(
            f"{ns}_relay_failing_sessions", "Relay sessions failed in a row (0: working)", stats.failing_sessions
        )
        yield CounterMetricFamily(
            f"{ns}_relay_producer_restarts", "Producers replaced after a rejected batch", stats.producer_restarts
        )
        yield GaugeMetricFamily(f"{ns}_relay_owned_shards", "Outbox shards this relay publishes", stats.owned_shards)
        latency = stats.publish_latency
        yield HistogramMetricFamily(
            f"{ns}_relay_publish_duration_seconds",
            "From sending a batch of events to the broker's last acknowledgement",
            buckets=latency.buckets(),
            sum_value=latency.total,
        )


@dataclass(frozen=True)
class ImportStates:
    """Imports not finished yet: by state (`queued`, `processing`), and how many of them made no progress for
    longer than the stuck threshold."""

    active: Mapping[str, int] = field(default_factory=dict)
    stuck: int = 0


class _CallbackGauges(Collector):
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.lag: GroupLagSource | None = None
        self.backlog: Callable[[], int] | None = None
        self.imports: Callable[[], ImportStates] | None = None

    def collect(self) -> Any:
        ns = self.namespace
        if self.lag is not None:
            by_partition, age = _safely(self.lag, ({}, None))
            gauge = GaugeMetricFamily(
                f"{ns}_consumer_group_lag",
                "Records behind the end of orders.ingest.v1, per partition, as the broker sees"
                " the consumer group's committed offsets",
                labels=["partition"],
            )
            for partition, lag in sorted(by_partition.items()):
                gauge.add_metric([str(partition)], lag)
            yield gauge
            yield GaugeMetricFamily(
                f"{ns}_consumer_group_lag_age_seconds",
                "Age of the last lag reading from the broker (-1: none yet)",
                -1.0 if age is None else age,
            )
        if self.backlog is not None:
            backlog = _safely(self.backlog, None)
            if backlog is not None:
                yield GaugeMetricFamily(f"{ns}_outbox_backlog", "Outbox rows not yet relayed", backlog)
        if self.imports is not None:
            yield from _import_gauges(ns, _safely(self.imports, ImportStates()))


def _import_gauges(ns: str, states: ImportStates) -> Any:
    active = GaugeMetricFamily(f"{ns}_imports_active", "Imports not finished, by state", labels=["state"])
    for state in ("queued", "processing"):
        active.add_metric([state], states.active.get(state, 0))
    yield active
    yield GaugeMetricFamily(
        f"{ns}_imports_stuck", "Imports queued or processing without progress for too long", states.stuck
    )


def _safely(source: Callable[[], Any], default: Any) -> Any:
    """A failing callback must not break the whole scrape."""
    try:
        return source()
    except Exception:
        log.exception("metrics callback failed")
        return default


# --- checks ------------------------------------------------------------------------------------------------------


def postgres_check(pool: Callable[[], Any]) -> Check:
    """`SELECT 1` on a connection of `pool()` (a callable: the pool may be created after the check)."""

    async def check() -> object:
        async with pool().acquire(timeout=CHECK_TIMEOUT_S) as conn:
            return await conn.fetchval("SELECT 1")

    return check


def postgres_url_check(database_url: str) -> Check:
    """`SELECT 1` on a fresh connection: for processes without a pool (the relay)."""

    async def check() -> object:
        import asyncpg

        conn = await asyncpg.connect(database_url, timeout=CHECK_TIMEOUT_S)
        try:
            return await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    return check


def kafka_check(bootstrap_servers: str) -> Check:
    """A metadata request to the cluster through a short-lived client (bootstrapping fetches the metadata)."""

    async def check() -> object:
        from aiokafka.client import AIOKafkaClient

        client = AIOKafkaClient(
            bootstrap_servers=bootstrap_servers,
            request_timeout_ms=int(CHECK_TIMEOUT_S * 1000),
            client_id="orderinfo-readiness",
        )
        try:
            await client.bootstrap()
            return len(client.cluster.brokers())
        finally:
            await client.close()

    return check


async def run_checks(checks: Mapping[str, Check], within: float = CHECK_TIMEOUT_S) -> dict[str, str]:
    """Every check at once, each bounded by `within` seconds: name -> "ok" or why it failed."""

    async def one(check: Check) -> str:
        try:
            await asyncio.wait_for(check(), within)
        except TimeoutError:
            return f"no answer within {within:g} s"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return "ok"

    results = await asyncio.gather(*(one(c) for c in checks.values()))
    return dict(zip(checks, results, strict=True))


class Readiness:
    """The checks behind `/readyz`: one run in flight at a time per process, its result reused for `ttl` seconds.

    Anonymous callers can ask as often as they like: a burst costs one Kafka metadata request and one database
    connection per `ttl`, never one each (a failed result is reused too, so a struggling dependency is not piled on).
    """

    def __init__(
        self, checks: Mapping[str, Check], ttl: float = READINESS_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.checks, self.ttl, self.clock = checks, ttl, clock
        self.runs = 0
        self._running: asyncio.Task[dict[str, str]] | None = None
        self._last: tuple[float, dict[str, str]] | None = None

    async def results(self) -> dict[str, str]:
        if self._last is not None and self.clock() - self._last[0] < self.ttl:
            return dict(self._last[1])
        if self._running is None:
            self._running = asyncio.ensure_future(self._run())
        return dict(await asyncio.shield(self._running))  # a caller that gives up does not cancel the others' run

    async def _run(self) -> dict[str, str]:
        self.runs += 1
        try:
            results = await run_checks(self.checks)
            self._last = (self.clock(), results)
            return results
        finally:
            self._running = None


# --- HTTP ----------------------------------------------------------------------------------------------------------


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


class NotReady(BaseModel):
    """RFC 9457 problem details of a failed readiness check."""

    type: str = "https://orderinfo.dev/problems/not_ready"
    title: str = "Not ready"
    status: int = 503
    code: str = "not_ready"
    detail: str
    checks: dict[str, str]


def health_router(checks: Mapping[str, Check], metrics: Metrics) -> APIRouter:
    """`/healthz` (the process answers), `/readyz` (every check passes, else 503 problem; see `Readiness`),
    `/metrics`."""
    router = APIRouter(tags=["operations"])
    readiness = Readiness(checks)

    @router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
    async def healthz() -> Health:
        return Health(status="ok")

    @router.get(
        "/readyz",
        response_model=Health,
        summary="Readiness: PostgreSQL and Kafka answer",
        responses={503: {"model": NotReady, "content": {PROBLEM_JSON: {}}}},
    )
    async def readyz() -> Any:
        results = await readiness.results()
        failed = sorted(name for name, result in results.items() if result != "ok")
        if not failed:
            return Health(status="ready", checks=results)
        problem = NotReady(detail=f"not reachable: {', '.join(failed)}", checks=results)
        return JSONResponse(problem.model_dump(), status_code=503, media_type=PROBLEM_JSON)

    @router.get(
        "/metrics",
        response_class=Response,
        summary="Prometheus metrics",
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by method, route template (not raw path) and status."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def observed_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            # the template without converters: `/v1/orders/{order_no}`, not `{order_no:path}`
            route = getattr(scope.get("route"), "path_format", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route, status, time.perf_counter() - started)


def ops_app(checks: Mapping[str, Check], metrics: Metrics) -> FastAPI:
    """The operations endpoints alone, for processes that serve no API."""
    app = FastAPI(title="Order Info operations", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(health_router(checks, metrics))
    return app


async def serve_ops(host: str, port: int, checks: Mapping[str, Check], metrics: Metrics, stop: asyncio.Event) -> None:
    """Serve `ops_app` on host:port until `stop` is set. The process's own signal handlers stay in charge.

    Port 0 serves nothing; a port that cannot be bound (another process of the same kind on this host) is logged
    and skipped: the operations endpoints must never take the process they observe down with them."""
    if not port:
        return
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        logging.getLogger("orderinfo.ops").warning("not serving /healthz, /metrics on %s:%d: %s", host, port, exc)
        return
    config = uvicorn.Config(ops_app(checks, metrics), log_level="warning", access_log=False, lifespan="off")
    server = _QuietServer(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving


class _QuietServer(uvicorn.Server):
    """uvicorn's server without its signal capture (which would replace the process's SIGINT/SIGTERM handlers)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
