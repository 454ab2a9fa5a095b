"""The event ids and the stored JSON of events: fast spellings that must equal the plain ones they replace."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace

import orjson
from hypothesis import given
from hypothesis import strategies as st

from services.core.changes import CustomerSnapshot
from services.core.order import OrderStatus
from services.rules_bridge.contracts.order_events_v1 import ORDER_UPDATED, SOURCE
from services.rules_bridge.domain.events import (
    EVENT_NAMESPACE,
    OutboxRecord,
    canonical_json,
    cloudevent_headers,
    customer_updated,
    event_id,
    order_events,
    order_payload,
)
from tests.unit.rules_bridge.factories import AT, change, snapshot

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


@given(st.lists(st.one_of(TEXT, st.integers(), st.uuids()), min_size=1, max_size=4))
def test_event_id_is_uuid5_of_the_parts_joined(parts: list[object]) -> None:
    assert event_id(*parts) == str(uuid.uuid5(EVENT_NAMESPACE, ":".join(str(p) for p in parts)))


def test_event_id_sets_the_variant_of_every_nibble() -> None:
    ids = [(event_id("order", n), str(uuid.uuid5(EVENT_NAMESPACE, f"order:{n}"))) for n in range(256)]
    assert len({ours[19] for ours, _ in ids}) == 4  # 8, 9, a, b: each of the 16 digests' nibbles met
    assert all(ours == theirs for ours, theirs in ids)


@given(st.dictionaries(TEXT, JSON, max_size=6))
def test_canonical_json_is_sorted_compact_ascii_json(payload: dict[str, object]) -> None:
    """A customer event's id digests this text: it must stay byte for byte what `json.dumps` wrote."""
    assert canonical_json(payload) == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def test_canonical_json_escapes_like_json_dumps() -> None:
    payload = {"名": "客户 😀", "ctl": "\t\n\r\x7f\u2028", "quote": '"\\/', "big": 2**70, "lone": "\ud800"}
    assert canonical_json(payload) == json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


@given(st.dictionaries(TEXT, JSON, max_size=6), st.dictionaries(TEXT, TEXT, max_size=4))
def test_stored_text_reads_back_as_the_record(payload: dict[str, object], headers: dict[str, str]) -> None:
    record = OutboxRecord.of(uuid.uuid4(), "t", "k", "e", "x", headers, payload)
    assert record.payload_json == orjson.dumps(payload).decode() and record.payload == payload
    assert json.loads(record.headers_json) == headers == record.headers
    tombstone = OutboxRecord.of(uuid.uuid4(), "t", "k", "e", "x", headers, None)
    assert tombstone.payload_json is None and tombstone.payload is None


ORDER_NO = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
STATUS = st.sampled_from(list(OrderStatus))


@given(ORDER_NO, st.none() | STATUS, STATUS, TEXT, st.booleans())
def test_order_events_store_the_text_of_their_dicts(
    order_no: str, before: OrderStatus | None, after: OrderStatus, store_name: str, content: bool
) -> None:
    """An order event's headers and payload are encoded once per change, spliced, without their dicts: the bytes
    they are stored as must be orjson's encoding of those dicts (what was stored before), whatever the order no.
    holds: the CloudEvents headers, and the order's payload with `inferred` last."""
    shifted = replace(change(before, after, content_changed=content), after=snapshot(order_no, after))
    shifted = replace(shifted, after=replace(shifted.after, store_name=store_name or None, status_raw=store_name))
    for record in order_events(shifted, at=AT):
        kind, tenant = record.event_type, str(shifted.tenant_id)
        headers = cloudevent_headers(record.event_id, SOURCE, kind, order_no, tenant, AT)
        assert record.headers_json == orjson.dumps(headers).decode()
        inferred = (record.payload or {})["inferred"]
        assert record.payload_json == orjson.dumps({**order_payload(shifted), "inferred": inferred}).decode()


@given(st.dictionaries(TEXT, JSON, max_size=6), st.none() | TEXT, st.booleans())
def test_a_customer_event_with_its_persona_encoded_stores_the_same_text(
    persona: dict[str, object], nickname: str | None, created: bool
) -> None:
    # The persona stage hands over the persona's bytes (the ones it stores): the payload carries them as they are
    plain = CustomerSnapshot(uuid.UUID(int=1), uuid.UUID(int=2), None, "13900000001", None, nickname, persona, created)
    encoded = replace(plain, persona_json=orjson.dumps(persona))
    ours, reference = customer_updated(encoded, at=AT), customer_updated(plain, at=AT)
    assert ours.payload_json == reference.payload_json == orjson.dumps(reference.payload).decode()
    assert ours == reference  # the same event (its id is the persona's digest, whatever its encoding)
    digest = hashlib.sha256(canonical_json(reference.payload or {})).hexdigest()[:32]
    assert ours.event_id == event_id(plain.tenant_id, plain.customer_id, digest)  # as named before


@given(ORDER_NO, st.none() | STATUS, STATUS, st.integers(1, 10**6))
def test_order_event_ids_are_event_id_of_their_parts(
    order_no: str, before: OrderStatus | None, after: OrderStatus, version: int
) -> None:
    # Shaping names its events by f-strings (`named_event_id`): the ids `event_id` gives the parts, as before
    shifted = replace(
        change(before, after, content_changed=True), after=replace(snapshot(order_no, after), version=version)
    )
    for record in order_events(shifted, at=AT):
        parts = ["updated", version] if record.event_type == ORDER_UPDATED else [record.event_type]
        assert record.event_id == event_id(str(shifted.tenant_id), order_no, *parts)
        assert record.event_id == str(
            uuid.uuid5(EVENT_NAMESPACE, ":".join(map(str, [shifted.tenant_id, order_no, *parts])))
        )
