"""Where scenarios run: the shared local stack (a database and topic prefix of their own) and, for the scenarios
that restart Kafka or PostgreSQL, a private stack on other ports that nobody else uses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from services.ingest.main import ensure_ingest_topics
from services.ingest.settings import IngestSettings
from services.platform.database import scratch_database
from services.platform.migrations import migrate
from services.platform.settings import ConnectionSettings
from services.platform.stack import kafka, postgres
from services.platform.stack.settings import StackSettings
from services.rules_bridge.main import create_topics
from services.rules_bridge.settings import RelaySettings
from tools.verification.processes import ProcessGroup, ServiceProcess, service_env

PRIVATE_PORTS = {"kafka_port": 19192, "kafka_controller_port": 19193, "postgres_port": 15532}
CONSUMER_ENV = {"ORDERINFO_CONSUMER_MAX_RECORDS": "100"}
RELAY_ENV = {
    "ORDERINFO_RELAY_POLL_INTERVAL_S": "0.5",
    "ORDERINFO_RELAY_SHARD_RETRY_INTERVAL_S": "0.5",
    "ORDERINFO_RELAY_LOCK_TIMEOUT_MS": "500",
    "ORDERINFO_RELAY_BATCH_SIZE": "200",
}


def scoped(base: ConnectionSettings, name: str) -> ConnectionSettings:
    """`base` with a topic prefix (and so consumer groups) of its own."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    prefix = f"{base.topic_prefix}{slug}-{uuid.uuid4().hex[:6]}."
    return base.model_copy(update={"topic_prefix": prefix})


async def ensure_all_topics(settings: ConnectionSettings) -> None:
    """The ingest and event topics, created with the settings' partition count before any process starts."""
    values = settings.model_dump()
    await ensure_ingest_topics(IngestSettings(**values))
    await create_topics(RelaySettings(**values))


def fresh_database(server_url: str) -> contextlib.AbstractAsyncContextManager[str]:
    """A migrated database of our own on the server of `server_url`; dropped afterwards."""
    return scratch_database(server_url, "verify")


@dataclass
class PrivateStack:
    """A Kafka broker and PostgreSQL server of our own, which scenarios may stop and restart."""

    stack: StackSettings
    connection: ConnectionSettings

    async def stop_kafka(self) -> None:
        await asyncio.to_thread(kafka.stop, self.stack)

    async def start_kafka(self) -> None:
        await asyncio.to_thread(kafka.start, self.stack)

    async def stop_postgres(self) -> None:
        await asyncio.to_thread(postgres.stop, self.stack)

    async def start_postgres(self) -> None:
        await asyncio.to_thread(postgres.start, self.stack)


@contextlib.asynccontextmanager
async def private_stack(topic_prefix: str = "verify.") -> AsyncIterator[PrivateStack]:
    """Start a private stack (ports 19192/19193/15532) in a fresh folder, migrate its database; at the end stop
    it and delete the folder. The folder is world-traversable, so PostgreSQL's OS user can use it when we are root."""
    home = Path(tempfile.mkdtemp(prefix="orderinfo-private-stack-", dir="/var/tmp"))
    os.chmod(home, 0o755)
    stack = StackSettings(home=home, **PRIVATE_PORTS)  # type: ignore[arg-type]
    try:
        await asyncio.to_thread(postgres.start, stack)
        await asyncio.to_thread(kafka.start, stack)
        conn = await asyncpg.connect(stack.database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        connection = ConnectionSettings(
            kafka_bootstrap_servers=stack.kafka_bootstrap,
            database_url=stack.database_url,
            topic_prefix=topic_prefix,
            topic_partitions=3,
        )
        yield PrivateStack(stack, connection)
    finally:
        for stop in (kafka.stop, postgres.stop):
            with contextlib.suppress(Exception):
                await asyncio.to_thread(stop, stack)
        await asyncio.to_thread(shutil.rmtree, home, True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class VerifyEnv:
    """What scenarios need: connection settings (shared stack; private stack for restarts), a work folder for
    logs and markers, and a way to start service processes."""

    shared: ConnectionSettings
    workdir: Path
    private: PrivateStack | None = None
    scenario_timeout_s: float = 240.0
    consumer_env: dict[str, str] = field(default_factory=lambda: dict(CONSUMER_ENV))
    relay_env: dict[str, str] = field(default_factory=lambda: dict(RELAY_ENV))
    consumers: int = 1  # processes of the consumer group per scenario (`orderinfo verify --consumers 2`)
    partners: dict[int, list[ServiceProcess]] = field(default_factory=dict)  # per group: its partner consumers

    def processes(self) -> ProcessGroup:
        return ProcessGroup(self.workdir / "logs")

    def consumer(self, group: ProcessGroup, settings: ConnectionSettings) -> ServiceProcess:
        """A consumer process (the one a scenario crashes or stops). With `consumers` > 1 the group's first call
        also starts partners that share the partitions and stay up through the scenario's faults."""
        env = service_env(settings, self.consumer_env)
        if id(group) not in self.partners:
            self.partners[id(group)] = [
                group.spawn(
                    f"consumer-partner{n}",
                    ["services.cli", "consume"],
                    {**env, "ORDERINFO_CONSUMER_OPS_PORT": str(_free_port())},  # one /metrics port each
                )
                for n in range(1, self.consumers)
            ]
        return group.spawn("consumer", ["services.cli", "consume"], env)

    def relay(
        self,
        group: ProcessGroup,
        settings: ConnectionSettings,
        hold_file: Path | None = None,
        hold_after_batches: int = 1,
    ) -> ServiceProcess:
        """The relay process; with `hold_file`, one that stops dead between publishing and marking."""
        if hold_file is None:
            return group.spawn("relay", ["services.cli", "relay"], service_env(settings, self.relay_env))
        extra = {
            **self.relay_env,
            "ORDERINFO_VERIFY_HOLD_FILE": str(hold_file),
            "ORDERINFO_VERIFY_HOLD_AFTER_BATCHES": str(hold_after_batches),
        }
        return group.spawn("relay-held", ["tools.verification.relay_probe"], service_env(settings, extra))
