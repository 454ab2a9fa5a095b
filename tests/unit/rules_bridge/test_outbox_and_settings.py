"""Sharding is stable across processes; relay settings read the shared names and their own prefix."""

from __future__ import annotations

import pytest

from services.rules_bridge.adapters.outbox_store import N_SHARDS, shard_of
from services.rules_bridge.examples.rule_engine import OrderEvent, RuleEngine
from services.rules_bridge.settings import RelaySettings


def test_shard_is_a_stable_hash_of_the_key() -> None:
    assert shard_of("tenant:order-1") == shard_of("tenant:order-1")
    assert shard_of("abc") == 0x352441C2 % N_SHARDS  # crc32("abc"): the same in every process and release
    assert len({shard_of(f"t:{i}") for i in range(1000)}) == N_SHARDS


def test_relay_settings_take_shared_names_and_their_own_prefix_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERINFO_TOPIC_PREFIX", "shared.")
    monkeypatch.setenv("ORDERINFO_TOPIC_PARTITIONS", "4")
    monkeypatch.setenv("ORDERINFO_RELAY_TOPIC_PARTITIONS", "8")
    monkeypatch.setenv("ORDERINFO_RELAY_BATCH_SIZE", "50")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    settings = RelaySettings()
    assert (settings.topic("orders.events.v1"), settings.topic_partitions) == ("shared.orders.events.v1", 8)
    assert (settings.batch_size, settings.database_url) == (50, "postgresql://elsewhere/db")
    assert settings.retention.days == 7


def _event(event_id: str, event_type: str, inferred: bool = False) -> OrderEvent:
    return OrderEvent(event_id, event_type, "t", "O-1", "t:O-1", inferred, {}, 0, 0)


def test_the_reference_rule_engine_dedupes_and_skips_inferred_milestones() -> None:
    engine = RuleEngine(RelaySettings())
    for event in (_event("1", "order.paid", inferred=True), _event("2", "order.shipped"), _event("2", "order.shipped")):
        engine.handle(event)
    assert [t.action for t in engine.tasks] == ["send shipping notice"]
    assert (len(engine.received), len(engine.events)) == (3, 2)


@pytest.mark.parametrize(
    ("data", "follow_up"),
    [
        ({"paid_amount": "500.01", "total_amount": "500.01"}, True),
        ({"paid_amount": "500.00", "total_amount": "900.00"}, False),  # what was paid counts, not the total
        ({"paid_amount": None, "total_amount": "1299.00"}, True),
        ({"paid_amount": None, "total_amount": "12.00"}, False),
    ],
)
def test_a_rule_with_a_condition_on_the_amount(data: dict[str, object], follow_up: bool) -> None:
    engine = RuleEngine(RelaySettings())
    paid = OrderEvent("9", "order.paid", "t", "O-9", "t:O-9", False, data, 0, 0)
    actions = [t.action for t in engine.handle(paid)]
    assert actions[0] == "send payment thank-you"
    assert ("create a follow-up task for a sales rep" in actions) is follow_up
