"""Composition root of the relay process: `python -m services.rules_bridge.main` (SIGTERM/SIGINT stop it)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable

import asyncpg

from services.platform.migrations import migrate
from services.platform.observability import Check, Metrics, Process, kafka_check, postgres_url_check, serve_ops
from services.platform.topics import TopicSpec, ensure_topics
from services.rules_bridge.relay import TOPICS, Relay, RelayMetrics
from services.rules_bridge.settings import RelaySettings

__all__ = [
    "TOPICS",
    "RelayMetrics",
    "RelaySettings",
    "create_topics",
    "main",
    "relay_readiness",
    "serve",
    "tune_collector",
]

log = logging.getLogger(__name__)

RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
# The relay allocates a few short-lived objects per event, thousands per batch: with the default threshold (700)
# the collector ran dozens of times per batch, rescanning every long-lived object (a fifth of the relay's CPU).
GC_THRESHOLDS = (50_000, 20, 100)


async def create_topics(settings: RelaySettings) -> list[str]:
    """Create the topics the relay publishes to (physical names), with their partitions and configs."""
    specs = [TopicSpec(settings.topic(t.name), t.partitions, dict(t.configs)) for t in TOPICS]
    return await ensure_topics(
        settings.kafka_bootstrap_servers, specs, settings.topic_partitions, settings.topic_replication
    )


async def serve(
    settings: RelaySettings,
    stop: asyncio.Event | None = None,
    metrics: RelayMetrics | None = None,
    session: Callable[[RelaySettings, RelayMetrics], Relay] = Relay,
) -> None:
    """Migrate, create the topics, then relay until `stop` is set; a failed relay session is restarted with backoff.

    Every failed session counts in `metrics.restarts` and `metrics.failing_sessions` (reset once a session
    completes a pass; the backoff grows with it), so readiness and /metrics show a relay that keeps failing."""
    stop = stop or asyncio.Event()
    metrics = metrics or RelayMetrics()
    conn = await asyncpg.connect(settings.database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    await create_topics(settings)
    ops = _ops_server(settings, metrics, stop)
    while not stop.is_set():
        try:
            await session(settings, metrics).run(stop)
        except Exception as exc:
            log.exception("relay session failed; restarting")
            metrics.restarts += 1
            metrics.failing_sessions += 1
            metrics.last_error = f"{type(exc).__name__}: {exc}"[:300]
            delay = RESTART_BACKOFF_S[min(metrics.failing_sessions, len(RESTART_BACKOFF_S)) - 1]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    if ops is not None:
        await ops


def _ops_server(settings: RelaySettings, relay: RelayMetrics, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """/healthz, /readyz and /metrics (published, parked, backlog, oldest unsent age, sessions) on its own port."""
    if not settings.ops_port:
        return None
    metrics = Metrics(process=Process.RELAY)
    metrics.track_relay(lambda: relay)
    checks = {
        "postgres": postgres_url_check(settings.database_url),
        "kafka": kafka_check(settings.kafka_bootstrap_servers),
        "relay": relay_readiness(relay, settings),
    }
    return asyncio.create_task(serve_ops(settings.ops_host, settings.ops_port, checks, metrics, stop))


class RelayNotReady(Exception):
    pass


def relay_readiness(metrics: RelayMetrics, settings: RelaySettings) -> Check:
    """Fails while sessions keep failing or an owned shard's oldest unsent event is older than `stuck_after_s`.
    Parked events do not fail it: they are the events' problem, counted on /metrics."""

    async def check() -> object:
        problems = metrics.problems(settings.stuck_after_s)
        if problems:
            raise RelayNotReady("; ".join(problems))
        return None

    return check


def tune_collector() -> None:
    """For a relay process (not for tests running a relay in process): see `GC_THRESHOLDS`."""
    gc.freeze()  # what exists now lives as long as the process: out of the collector's scans
    gc.set_threshold(*GC_THRESHOLDS)


def main(session: Callable[[RelaySettings, RelayMetrics], Relay] = Relay) -> None:
    """The relay process; `session` builds each relay session (a fault scenario passes one with a hook)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tune_collector()
        await serve(RelaySettings(), stop, session=session)

    asyncio.run(run())


if __name__ == "__main__":
    main()
