"""Event shaping: from what the ingest consumer changed to the outbox records of the events it causes. Pure.

Guarantees (given the consumer's guarantee that statuses never move backwards):
- an order's milestones are emitted at most once each, in stage order; a jump emits the skipped ones `inferred`;
- an effective change that reaches no milestone emits one `order.updated`; a no-op emits nothing;
- event ids are deterministic (uuid5), so shaping the same change again yields the same ids: an order's name its
  milestone or version, a customer's its revision (one per stored change: a state it returns to is a new id).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from services.core.changes import CustomerSnapshot, OrderChange, OrderSnapshot
from services.core.frozen import quick_init
from services.core.keys import customer_key, order_key, uuid_text
from services.core.money import money_text
from services.core.order import OrderStatus
from services.core.status import next_status
from services.core.times import utc_text
from services.rules_bridge.contracts import customer_updated_v1 as customers
from services.rules_bridge.contracts import order_events_v1 as orders
from services.rules_bridge.domain.milestones import reached

EVENT_NAMESPACE = uuid.UUID("7f0c4a52-4a1e-5b7e-9d7c-0e5a2b8f3c11")  # fixed forever: ids depend on it
SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"


@quick_init
@dataclass(frozen=True)
class OutboxRecord:
    """One event as stored in the outbox: relayed to `topic` (logical name) with `key`, its headers and payload as
    the JSON text the relay publishes (compact, UTF-8 as is), encoded once when the event is shaped. The order
    events of a change share one encoding of its payload; their dicts are never built (measured: the headers and
    payload dicts each record kept alive until the outbox insert cost about 5 µs per order)."""

    tenant_id: uuid.UUID
    topic: str
    key: str
    event_id: str
    event_type: str
    headers_json: str  # a JSON object of strings
    payload_json: str | None  # None: a tombstone (a null value, for a compacted topic)

    @classmethod
    def of(
        cls,
        tenant_id: uuid.UUID,
        topic: str,
        key: str,
        ident: str,
        event_type: str,
        headers: dict[str, str],
        payload: dict[str, Any] | None,
    ) -> OutboxRecord:
        """The record of an event shaped as dicts, encoded as stored."""
        payload_json = None if payload is None else orjson.dumps(payload).decode()
        return cls(tenant_id, topic, key, ident, event_type, orjson.dumps(headers).decode(), payload_json)

    @property
    def headers(self) -> dict[str, str]:
        """The headers, read back from their stored text."""
        headers: dict[str, str] = orjson.loads(self.headers_json)
        return headers

    @property
    def payload(self) -> dict[str, Any] | None:
        """The payload, read back from its stored text (None: a tombstone)."""
        return None if self.payload_json is None else orjson.loads(self.payload_json)


def event_id(*parts: object) -> str:
    """The deterministic id of the event named by `parts`: `str(uuid.uuid5(EVENT_NAMESPACE, "a:b:c"))`, spelled out
    (shaping names two or three events per order; the `UUID` object in between cost more than the hash): the SHA-1
    digest's first 16 bytes in hex, with the version nibble (`5`) and the RFC 4122 variant bits set in the text."""
    return named_event_id(":".join(map(str, parts)))


def named_event_id(name: str) -> str:
    """`event_id` of the parts joined already (`"a:b:c"`). The shaping of every order and customer spells its
    names as f-strings of plain texts and integers (what `str` writes of them): `join(map(str, ...))` of the
    arguments cost as much as the hash."""
    x = hashlib.sha1(_NAMESPACE_BYTES + name.encode()).hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}  # a byte's high nibble with the bits `10xx`
_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def order_events(change: OrderChange, *, at: datetime) -> list[OutboxRecord]:
    """The events of one effective order change, in the order they must be published; `at` is `ce_time`."""
    after = change.after
    milestones = reached(change.before_status, after.status)
    tenant = uuid_text(change.tenant_id)  # once: it names every event id, key and header of the change
    # The key `"{tenant}:{order_no}"` starts the name of each event id, `event_id(tenant, order_no, type)` (plain
    # texts: see `named_event_id`; a test holds the ids to `event_id`'s)
    key = order_key(tenant, after.order_no)
    if milestones:
        shaped = [(m.event_type, m.inferred, named_event_id(f"{key}:{m.event_type}")) for m in milestones]
    elif change.content_changed or _status_moved(change.before_status, after.status):
        updated_id = named_event_id(f"{key}:updated:{after.version:d}")
        shaped = [(orders.ORDER_UPDATED, False, updated_id)]
    else:
        return []
    data = order_payload(change)
    # The payload encoded once for all the change's events: each is `data` with `inferred` last, so its text is
    # the encoded `data` with `"inferred":...` appended (the bytes `orjson.dumps({**data, "inferred": ...})` writes).
    body = orjson.dumps(data)[:-1].decode()
    when, subject = _stamp(at), orjson.dumps(after.order_no).decode()
    return [
        OutboxRecord(
            change.tenant_id,
            orders.TOPIC.name,
            key,
            ident,
            kind,
            _order_headers_json(ident, kind, when, subject, tenant),
            body + (_INFERRED if inferred else _NOT_INFERRED),
        )
        for kind, inferred, ident in shaped
    ]


def _order_headers_json(ident: str, kind: str, when: str, subject: str, tenant: str) -> str:
    """The stored headers of an order event: the text orjson writes for its `cloudevent_headers` dict, spelled out:
    each constant and the subject (`subject`: the order no. as orjson encodes it) as orjson encodes them; the id
    (hex), the time (`utc_text`) and the tenant (a UUID's text) hold nothing JSON escapes."""
    return (
        f'{{"ce_specversion":{_SPECVERSION},"ce_id":"{ident}","ce_source":{_ORDER_SOURCE},"ce_type":{_TYPES[kind]},'
        f'"ce_time":"{when}","ce_subject":{subject},"ce_tenantid":"{tenant}","content-type":{_CONTENT_TYPE}}}'
    )


_SPECVERSION, _ORDER_SOURCE = orjson.dumps(SPECVERSION).decode(), orjson.dumps(orders.SOURCE).decode()
_CONTENT_TYPE = orjson.dumps(CONTENT_TYPE).decode()
_TYPES = {kind: orjson.dumps(kind).decode() for kind in orders.EVENT_TYPES}
_INFERRED, _NOT_INFERRED = ',"inferred":true}', ',"inferred":false}'


def customer_erased(tenant_id: uuid.UUID, customer_id: uuid.UUID, *, at: datetime) -> OutboxRecord:
    """The tombstone of an erased customer: a null value under its key, so compaction drops every earlier state."""
    ident = event_id(tenant_id, customer_id, "erased")
    headers = cloudevent_headers(ident, customers.SOURCE, customers.CUSTOMER_ERASED, str(customer_id), tenant_id, at)
    del headers["content-type"]  # no content
    key = customer_key(tenant_id, customer_id)
    return OutboxRecord.of(tenant_id, customers.TOPIC.name, key, ident, customers.CUSTOMER_ERASED, headers, None)


def customer_updated(snapshot: CustomerSnapshot, *, at: datetime) -> OutboxRecord:
    """The `customer.updated` event of a customer's change. Its id names the change: the customer's revision
    (`CustomerSnapshot.revision`, raised once per stored change), so a state the customer returns to (a persona
    A -> B -> A) is a new id, while the change shaped again (or its outbox row published again) keeps its id.
    A snapshot of no stored change (no revision) is named by its content."""
    # Each UUID spelled once: the id, the key, the headers and the payload all name the tenant and the customer.
    tenant, customer = uuid_text(snapshot.tenant_id), str(snapshot.customer_id)
    payload = _customer_payload(snapshot, customer)
    key = customer_key(tenant, customer)
    if snapshot.revision is not None:
        ident = named_event_id(f"{key}:revision:{snapshot.revision:d}")  # `event_id(tenant, customer, "revision", n)`
    else:
        digest = hashlib.sha256(canonical_json(payload)).hexdigest()[:32]
        ident = named_event_id(f"{key}:{digest}")  # `event_id(tenant, customer, digest)`: the key starts its name
    headers = cloudevent_headers(ident, customers.SOURCE, customers.CUSTOMER_UPDATED, customer, tenant, at)
    if snapshot.persona_json is None:
        text = orjson.dumps(payload).decode()
    else:
        text = _payload_json(payload, snapshot.persona_json)
    return OutboxRecord(
        snapshot.tenant_id,
        customers.TOPIC.name,
        key,
        ident,
        customers.CUSTOMER_UPDATED,
        orjson.dumps(headers).decode(),
        text,
    )


def _payload_json(payload: dict[str, Any], persona_json: bytes) -> str:
    """The stored payload of a customer event whose persona is encoded already: the bytes orjson writes for the
    payload, the persona's taken as they are (`orjson.Fragment`) rather than encoded again."""
    return orjson.dumps({**payload, "persona": orjson.Fragment(persona_json)}).decode()


def canonical_json(payload: dict[str, Any]) -> bytes:
    """`json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()` (what a customer event's id digests,
    so ids stay what they were), by orjson when its sorted compact text is the same: when it is ASCII without DEL
    (`json.dumps` escapes DEL and every non-ASCII character, `\\uXXXX`; orjson writes them as they are). Any other
    payload (a Chinese nickname or store name, say) is written by `json.dumps` itself, which is then as fast as
    orjson followed by escaping, and exact by definition."""
    try:
        text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # what orjson refuses (a lone surrogate, an integer past 64 bits)
        return _canonical_by_json(payload)
    if text.isascii() and _DEL not in text:  # both scan in C (a regular expression took 10 µs a customer)
        return text
    return _canonical_by_json(payload)


_DEL = b"\x7f"


def _canonical_by_json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def cloudevent_headers(
    ident: str, source: str, event_type: str, subject: str, tenant_id: uuid.UUID | str, at: datetime
) -> dict[str, str]:
    """CloudEvents 1.0 attributes as Kafka binary-mode headers (`ce_` prefix, `content-type`)."""
    when = _stamp(at)
    return {
        "ce_specversion": SPECVERSION,
        "ce_id": ident,
        "ce_source": source,
        "ce_type": event_type,
        "ce_time": when,
        "ce_subject": subject,
        "ce_tenantid": str(tenant_id),
        "content-type": CONTENT_TYPE,
    }


_stamp = functools.lru_cache(maxsize=4)(utc_text)  # one `at` per batch, shared by all its events


def customer_payload(snapshot: CustomerSnapshot) -> dict[str, Any]:
    """`CustomerUpdatedV1` as JSON-ready data, built directly (the hot path); a test holds it to the model."""
    return _customer_payload(snapshot, str(snapshot.customer_id))


def _customer_payload(snapshot: CustomerSnapshot, customer: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "customer_id": customer,
        "sobot_customer_id": snapshot.sobot_customer_id,
        "mobile": snapshot.mobile,
        "unionid": snapshot.unionid,
        "nickname": snapshot.nickname,
        "persona": snapshot.persona,
        "created": snapshot.created,
    }


def order_payload(change: OrderChange) -> dict[str, Any]:
    """`OrderEventV1` as JSON-ready data without `inferred`, built directly: shaping runs for every order of every
    batch, and validating through the model per event cost more than the database writes. A test holds it to the
    model (`order_data`)."""
    after = change.after
    return {
        "schema_version": 1,
        "order_no": after.order_no,
        "source": after.source,
        "status": after.status.value,
        "status_before": change.before_status.value if change.before_status else None,
        "status_raw": after.status_raw,
        "order_time": _time(after.order_time),
        "payment_time": _time(after.payment_time) if after.payment_time else None,
        "order_amount": _money(after.order_amount),
        "paid_amount": _money(after.paid_amount),
        "total_amount": money_text(after.total_amount),
        "store": {"store_no": after.store_no, "store_id": after.store_id, "name": after.store_name},
        "customer": {"id": str(after.customer_id), "matched_by": after.matched_by},
        "version": after.version,
        "lines": [
            {
                "product_id": line.product_id,
                "sku": line.sku,
                "product_name": line.product_name,
                "quantity": line.quantity,
                "unit_price": money_text(line.unit_price),
                "line_amount": _money(line.line_amount),
            }
            for line in after.lines
        ],
        "cause": {"import_id": str(change.import_id) if change.import_id else None, "producer": change.producer},
    }


def _time(value: datetime) -> str:
    return utc_text(value)


def order_data(change: OrderChange, inferred: bool) -> orders.OrderEventV1:
    """The data of an order event: the snapshot after the change, the status before it and its cause."""
    after: OrderSnapshot = change.after
    return orders.OrderEventV1(
        order_no=after.order_no,
        source=after.source,  # validated into OrderSource
        status=after.status,
        status_before=change.before_status,
        status_raw=after.status_raw,
        order_time=after.order_time.astimezone(UTC),
        payment_time=after.payment_time.astimezone(UTC) if after.payment_time else None,
        order_amount=_money(after.order_amount),
        paid_amount=_money(after.paid_amount),
        total_amount=money_text(after.total_amount),
        store=orders.StoreV1(store_no=after.store_no, store_id=after.store_id, name=after.store_name),
        customer=orders.CustomerRefV1(id=after.customer_id, matched_by=after.matched_by),
        version=after.version,
        lines=[
            orders.LineV1(
                product_id=line.product_id,
                sku=line.sku,
                product_name=line.product_name,
                quantity=line.quantity,
                unit_price=money_text(line.unit_price),
                line_amount=_money(line.line_amount),
            )
            for line in after.lines
        ],
        inferred=inferred,
        cause=orders.CauseV1(import_id=change.import_id, producer=change.producer),
    )


def _status_moved(before: OrderStatus | None, after: OrderStatus) -> bool:
    """A forward move the state machine accepts (a backward one never reaches the bridge: ignore it if it does)."""
    if before is None or before is after:
        return before is None
    decision = next_status(before, after)
    return not decision.stale and decision.status is after


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)
