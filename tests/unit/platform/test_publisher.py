"""The one keyed publisher: one answer per record, in order, never raised; keys and headers go out as given."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from services.platform.publisher import KeyedPublisher, KeyedRecord


class Refused(Exception):
    pass


class Rejected(Exception):
    pass


class RecordingProducer:
    """An aiokafka-shaped producer: `send` queues and answers a future; some records are refused or rejected."""

    def __init__(self, refuse: set[bytes], reject: set[bytes]) -> None:
        self.sent: list[tuple[str, bytes, bytes | None, Any]] = []
        self.refuse, self.reject = refuse, reject

    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Any:
        if key in self.refuse:
            raise Refused(key)
        self.sent.append((topic, value, key, headers))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if key in self.reject:
            future.set_exception(Rejected(key))
        else:
            future.set_result(None)
        return future


def _records(*keys: bytes) -> list[KeyedRecord]:
    return [KeyedRecord("t", key, b'{"n": "%s"}' % key, {"content-type": "application/json"}) for key in keys]


async def test_every_record_gets_its_answer_in_order_and_nothing_is_raised() -> None:
    producer = RecordingProducer(refuse={b"b"}, reject={b"c"})
    answers = await KeyedPublisher.on_producer(producer).publish_all(_records(b"a", b"b", b"c", b"d"))
    assert [type(a).__name__ if a else None for a in answers] == [None, "Refused", "Rejected", None]
    assert [key for _, _, key, _ in producer.sent] == [b"a", b"c", b"d"]  # a refused record stops nothing after it
    assert producer.sent[0][3] == [("content-type", b"application/json")]  # aiokafka's header shape


async def test_records_publish_with_their_keys_through_a_faststream_broker() -> None:
    broker = KafkaBroker()
    received: list[tuple[bytes | None, dict[str, str]]] = []

    @broker.subscriber("t")
    async def on_record(body: dict[str, str], message: KafkaMessage) -> None:
        received.append((message.raw_message.key, body))

    async with TestKafkaBroker(broker):
        answers = await KeyedPublisher.on_broker(broker).publish_all(_records(b"k1", b"k2"))
    assert answers == [None, None]
    assert received == [(b"k1", {"n": "k1"}), (b"k2", {"n": "k2"})]
