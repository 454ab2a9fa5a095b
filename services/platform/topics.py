"""Kafka topics are created explicitly, with their partition counts and configs: never by auto-creation.

Every topic gets `max.message.bytes` = `bounds.MAX_MESSAGE_BYTES` unless its spec says otherwise, the same bound as
the producers' `max_request_size` and the broker's `message.max.bytes`. A topic that already exists keeps its
partitions, but its configs are brought to the spec's (other settings an operator gave it are kept).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.core.bounds import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

DEFAULT_CONFIGS = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
_DYNAMIC_TOPIC_CONFIG = 1  # DescribeConfigs config_source: set on the topic itself


@dataclass(frozen=True)
class TopicSpec:
    """A topic this project owns. `partitions=None` takes the deployment's configured default."""

    name: str
    partitions: int | None = None
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def wanted_configs(self) -> dict[str, str]:
        return DEFAULT_CONFIGS | self.configs


async def ensure_topics(
    bootstrap_servers: str, specs: Iterable[TopicSpec], default_partitions: int, replication_factor: int = 1
) -> list[str]:
    """Create the topics that do not exist yet and align the configs of those that do; return the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    specs = list(specs)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        await _align_configs(admin, [s for s in specs if s.name in existing])
        if not wanted:
            return []
        new = [
            NewTopic(s.name, s.partitions or default_partitions, replication_factor, topic_configs=s.wanted_configs)
            for s in wanted
        ]
        with contextlib.suppress(TopicAlreadyExistsError):  # another process created it meanwhile: fine
            await admin.create_topics(new)
        return [s.name for s in wanted]
    finally:
        await admin.close()


async def topic_configs(admin: Any, names: Sequence[str]) -> dict[str, dict[str, tuple[str, bool]]]:
    """Per topic: config name -> (value, set on the topic itself rather than inherited); unreadable ones left out."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    if not names:
        return {}
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    found: dict[str, dict[str, tuple[str, bool]]] = {}
    for response in responses:
        for error, message, _kind, name, entries in response.resources:
            if error:  # e.g. a topic created a moment ago, not known to every broker yet
                log.warning("topic %s: configs not readable (error %d: %s)", name, error, message)
                continue
            found[name] = {e[0]: (e[1], e[3] == _DYNAMIC_TOPIC_CONFIG) for e in entries}
    return found


async def _align_configs(admin: Any, specs: Sequence[TopicSpec]) -> None:
    """Set the spec's configs on existing topics whose values differ (AlterConfigs replaces a topic's whole set of
    overrides, so the overrides it has are sent along)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    current = await topic_configs(admin, [s.name for s in specs])
    changes = []
    for spec in specs:
        configs = current.get(spec.name, {})
        if all(configs.get(k, ("", False))[0] == v for k, v in spec.wanted_configs.items()):
            continue
        overrides = {k: value for k, (value, own) in configs.items() if own}
        log.info("topic %s: setting %s", spec.name, _differences(configs, spec.wanted_configs))
        changes.append(ConfigResource(ConfigResourceType.TOPIC, spec.name, overrides | spec.wanted_configs))
    if not changes:
        return
    for response in await admin.alter_configs(changes):
        for error, message, _kind, name in response.resources:
            if error:  # not fatal: the producers' own limit and the relay's parking still hold
                log.warning("topic %s: configs not changed (error %d: %s)", name, error, message)


def _differences(current: Mapping[str, tuple[str, bool]], wanted: Mapping[str, str]) -> str:
    differing = {k: v for k, v in wanted.items() if current.get(k, ("", False))[0] != v}
    return ", ".join(f"{k}={v} (was {current.get(k, ('unset', False))[0]})" for k, v in differing.items())


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


async def partitions_of(bootstrap_servers: str, topic: str) -> list[int]:
    """The partitions of `topic`; none when it does not exist (it is not created by asking)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(p["partition"] for t in described if t["topic"] == topic for p in t["partitions"])
