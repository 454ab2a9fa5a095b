"""Composition root of the relay process: `python -m services.rules_bridge.main` (SIGTERM/SIGINT stop it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import asyncpg

from services.platform.migrations import migrate
from services.platform.observability import Metrics, kafka_check, postgres_url_check, serve_ops
from services.platform.topics import TopicSpec, ensure_topics
from services.rules_bridge.contracts import customer_updated_v1, order_events_v1
from services.rules_bridge.relay import Relay, RelayMetrics
from services.rules_bridge.settings import RelaySettings

__all__ = ["TOPICS", "RelayMetrics", "RelaySettings", "create_topics", "main", "serve"]

log = logging.getLogger(__name__)

TOPICS: tuple[TopicSpec, ...] = (order_events_v1.TOPIC, customer_updated_v1.TOPIC)
RESTART_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


async def create_topics(settings: RelaySettings) -> list[str]:
    """Create the topics the relay publishes to (physical names), with their partitions and configs."""
    specs = [TopicSpec(settings.topic(t.name), t.partitions, dict(t.configs)) for t in TOPICS]
    return await ensure_topics(
        settings.kafka_bootstrap_servers, specs, settings.topic_partitions, settings.topic_replication
    )


async def serve(
    settings: RelaySettings, stop: asyncio.Event | None = None, metrics: RelayMetrics | None = None
) -> None:
    """Migrate, create the topics, then relay until `stop` is set; a failed relay session is restarted with backoff."""
    stop = stop or asyncio.Event()
    metrics = metrics or RelayMetrics()
    conn = await asyncpg.connect(settings.database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    await create_topics(settings)
    ops = _ops_server(settings, metrics, stop)
    failures = 0
    while not stop.is_set():
        try:
            await Relay(settings, metrics).run(stop)
            failures = 0
        except Exception:
            log.exception("relay session failed; restarting")
            metrics.restarts += 1
            delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    if ops is not None:
        await ops


def _ops_server(settings: RelaySettings, relay: RelayMetrics, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """/healthz, /readyz and /metrics (outbox backlog) on the relay's own port."""
    if not settings.ops_port:
        return None
    metrics = Metrics()
    metrics.track_outbox_backlog(lambda: relay.backlog)
    checks = {
        "postgres": postgres_url_check(settings.database_url),
        "kafka": kafka_check(settings.kafka_bootstrap_servers),
    }
    return asyncio.create_task(serve_ops(settings.ops_host, settings.ops_port, checks, metrics, stop))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(RelaySettings(), stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
