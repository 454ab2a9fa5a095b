"""Message sizes bounded end to end on the real broker: every topic, new or existing, takes `MAX_MESSAGE_BYTES`,
and the producers (the API's and consumer's broker, the relay's producer) send up to it and refuse beyond it."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError

from services.core.bounds import MAX_MESSAGE_BYTES
from services.ingest.contracts.orders_ingest_v1 import DLQ_TOPIC
from services.ingest.main import ensure_ingest_topics, producer_broker
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.platform.topics import TopicSpec, ensure_topics, topic_configs
from services.rules_bridge.main import create_topics
from services.rules_bridge.relay import Relay
from tests.integration.rules_bridge.support import fresh_topics, relay_settings
from tools.verification.checks import eventually

pytestmark = pytest.mark.integration

MB = 1024 * 1024


async def _configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    """The configs of `names`, once the broker describes them all (a new topic takes a moment)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        found = await eventually(lambda: topic_configs(admin, names), lambda f: len(f) == len(names), 30, "configs")
    finally:
        await admin.close()
    return {name: {k: value for k, (value, _own) in configs.items()} for name, configs in found.items()}


async def test_every_topic_the_services_create_takes_the_message_bound(connection_settings: ConnectionSettings) -> None:
    settings = fresh_topics(connection_settings)
    await create_topics(relay_settings(settings))
    await ensure_ingest_topics(IngestSettings(**settings.model_dump()))
    names = [settings.topic(n) for n in ("orders.events.v1", "customers.updated.v1", "orders.ingest.v1")]
    dead_letters = settings.topic(DLQ_TOPIC.name)

    configs = await _configs(settings.kafka_bootstrap_servers, [*names, dead_letters])

    assert {name: configs[name]["max.message.bytes"] for name in names} == dict.fromkeys(names, str(MAX_MESSAGE_BYTES))
    assert int(configs[dead_letters]["max.message.bytes"]) >= MAX_MESSAGE_BYTES  # a dead letter holds a whole record
    assert configs[names[1]]["cleanup.policy"] == "compact"  # the specs' own configs stay


async def test_an_existing_topic_is_brought_to_the_bound_and_keeps_its_other_settings(
    connection_settings: ConnectionSettings,
) -> None:
    bootstrap = connection_settings.kafka_bootstrap_servers
    name = f"{connection_settings.topic_prefix}old-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        old = {"max.message.bytes": "1048588", "retention.ms": "3600000"}  # as an older release created it
        await admin.create_topics([NewTopic(name, 1, 1, topic_configs=old)])
    finally:
        await admin.close()
    await _configs(bootstrap, [name])  # known to the broker: it is an existing topic now

    created = await ensure_topics(bootstrap, [TopicSpec(name, configs={"cleanup.policy": "delete"})], 1)

    configs = (await _configs(bootstrap, [name]))[name]
    assert created == []
    assert (configs["max.message.bytes"], configs["retention.ms"]) == (str(MAX_MESSAGE_BYTES), "3600000")


async def test_the_api_broker_sends_messages_up_to_the_bound_and_refuses_larger(
    connection_settings: ConnectionSettings,
) -> None:
    ingest = IngestSettings(**fresh_topics(connection_settings).model_dump())
    await ensure_ingest_topics(ingest)
    broker = producer_broker(ingest)
    await broker.start()
    try:
        await broker.publish(b"x" * (3 * MB), topic=ingest.topic(DLQ_TOPIC.name), key=b"size-check")
        with pytest.raises(MessageSizeTooLargeError):
            await broker.publish(b"x" * (MAX_MESSAGE_BYTES + MB), topic=ingest.topic(DLQ_TOPIC.name), key=b"too-big")
    finally:
        await broker.stop()


async def test_the_relay_producer_takes_messages_up_to_the_bound(connection_settings: ConnectionSettings) -> None:
    settings = relay_settings(fresh_topics(connection_settings))
    await create_topics(settings)
    producer = Relay(settings)._producer()
    await producer.start()
    try:
        ack = await (await producer.send(settings.topic("orders.events.v1"), b"x" * (3 * MB), key=b"size-check"))
        assert ack.offset >= 0
    finally:
        await producer.stop()
