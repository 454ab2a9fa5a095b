"""Kafka topics are created explicitly, with their partition counts and configs: never by auto-creation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    """A topic this project owns. `partitions=None` takes the deployment's configured default."""

    name: str
    partitions: int | None = None
    configs: dict[str, str] = field(default_factory=dict)


async def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], default_partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Existing topics are left as they are."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        new = [
            NewTopic(s.name, s.partitions or default_partitions, replication_factor, topic_configs=s.configs)
            for s in wanted
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another process created it meanwhile: fine
            await admin.create_topics(new)
        return [s.name for s in wanted]
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap_servers: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` (test and verification runs clean up after themselves).
    Refuses an empty prefix, which would name every topic of the cluster."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not prefix:
        raise ValueError("an empty prefix would delete every topic")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        doomed = sorted(name for name in await admin.list_topics() if name.startswith(prefix))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
