"""One message size bound everywhere: the local broker, the compose broker and every topic this project creates."""

from __future__ import annotations

import re
from pathlib import Path

from services.core.bounds import MAX_MESSAGE_BYTES
from services.platform.stack import kafka
from services.platform.stack.settings import StackSettings
from services.platform.topics import TopicSpec
from services.rules_bridge.relay import TOPICS

COMPOSE = Path(__file__).resolve().parents[3] / "deploy" / "compose.yaml"


def test_the_local_broker_takes_messages_up_to_the_bound(tmp_path: Path) -> None:
    props = dict(line.split("=", 1) for line in kafka._properties(StackSettings(), tmp_path).splitlines())
    assert props["message.max.bytes"] == props["replica.fetch.max.bytes"] == str(MAX_MESSAGE_BYTES)


def test_the_compose_broker_takes_messages_up_to_the_bound() -> None:
    text = COMPOSE.read_text()
    for name in ("KAFKA_MESSAGE_MAX_BYTES", "KAFKA_REPLICA_FETCH_MAX_BYTES"):
        match = re.search(rf"^\s*{name}:\s*\"?(\d+)\"?\s*$", text, re.MULTILINE)
        assert match is not None and int(match.group(1)) == MAX_MESSAGE_BYTES, name


def test_every_topic_spec_wants_the_bound_and_keeps_its_own_configs() -> None:
    for spec in TOPICS:
        assert spec.wanted_configs["max.message.bytes"] == str(MAX_MESSAGE_BYTES)
    assert TopicSpec("x", configs={"cleanup.policy": "compact"}).wanted_configs == {
        "max.message.bytes": str(MAX_MESSAGE_BYTES),
        "cleanup.policy": "compact",
    }
