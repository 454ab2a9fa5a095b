"""The upload and the dead letters publish straight to the started broker's aiokafka producer
(`publisher.broker_producer`): that producer is the one the composition root configured (acks=all, idempotent,
the key partitioner), and a broker that is not running answers each record with its error, never raises."""

from __future__ import annotations

from services.ingest.main import producer_broker
from services.ingest.settings import IngestSettings
from services.platform.partitioning import KeyPartitioner
from services.platform.publisher import KeyedPublisher, KeyedRecord, broker_producer
from services.platform.settings import ConnectionSettings


async def test_the_broker_producer_is_acks_all_and_idempotent(connection_settings: ConnectionSettings) -> None:
    broker = producer_broker(IngestSettings(**connection_settings.model_dump()))
    assert broker_producer(broker) is None  # not started: published through FastStream, which refuses
    await broker.start()
    try:
        producer = broker_producer(broker)
        assert producer is not None
        assert producer._sender._acks == -1  # acks=all
        assert producer._txn_manager is not None  # idempotence (a producer id, sequence numbers)
        assert isinstance(producer._partitioner, KeyPartitioner)
    finally:
        await broker.stop()
    assert broker_producer(broker) is None
    answers = await KeyedPublisher.on_broker(broker).publish_all(
        [KeyedRecord("t", b"k1", b"v"), KeyedRecord("t", b"k2", b"v")]
    )
    assert len(answers) == 2 and all(isinstance(a, Exception) for a in answers)
