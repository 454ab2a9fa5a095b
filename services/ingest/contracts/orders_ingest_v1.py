"""Contract of `orders.ingest.v1`: one message per order, key `"{tenant_id}:{order_no}"`.

The import service publishes it for every valid order of an upload; other systems (a mall integration pushing
orders live) may publish the same contract. The consumer validates every message; an invalid one goes to
`orders.ingest.dlq.v1` with headers naming the reason. The JSON Schema in `schemas/` is generated from this model.

What the consumer decides for a record, whatever its headers (`content-type` is ignored: the value is read as
UTF-8 JSON): applied, or dead-lettered with `x-reason-code` one of `invalid_encoding` (not UTF-8; a value in UTF-8
with a byte-order mark, UTF-16 or UTF-32 is named so in `x-reason`), `invalid_json` (also JSON nested too deeply),
`contract_violation` (with the fields at fault in `x-reason`, also values that could not be stored: see
`services/core/bounds.py`), `missing_key` (a record without a key is refused: one order's records keep their order only
on one partition, which the key `"{tenant_id}:{order_no}"` guarantees), `key_mismatch`,
`unknown_tenant`, `import_of_another_tenant`, or `processing_error` (an infrastructure fault while storing it,
with the raw error in `x-exception`). A valid record whose order cannot be merged as sent is not applied either:
it is dead-lettered with the rejection's code (`ambiguous_sku`, `too_many_lines`, `total_too_large`; see
docs/merging.md) and its import counts it as `rejected`. A record counts toward the import it names only when
that import published that order. Records and dead letters are at most `bounds.MAX_MESSAGE_BYTES` (plus headers
for dead letters).

How values are read (the published schema says the same, so a producer that validates against it agrees):
- Integers (`quantity`, `row_no`, `schema_version`) are JSON integers: `true`, `1.0` and `"1"` are refused.
- Money is a JSON number (`12.5`, `1e2`) or a string in plain decimal notation (`"12.50"`): >= 0, at most two
  decimals and `bounds.MAX_MONEY`; it is kept with two places (so `-0` is `0.00`). Refused: booleans, strings with
  an exponent, a sign, spaces or separators (`"1E+2"`, `"-0"`, `" 1.00 "`, `"1,299.00"`), `NaN`, `Infinity`,
  numbers beyond the range (`1e400`) and integers of thousands of digits (a `contract_violation` naming where).
- Times are RFC 3339 strings with an offset, never epoch numbers (nor strings of them: `"1790000000"`).
- Blank (`""` or whitespace only) is absent, as `null` or a missing field is, for the optional times and amounts
  (`payment_time`, `order_amount`, `paid_amount`, `line_amount`) and `buyer.mobile`, as for every optional text.
- Text is stripped of surrounding whitespace (`order_no: " A1 "` is `A1`). The key's order part is compared after
  the same strip: `"{tenant_id}: A1 "` and `"{tenant_id}:A1"` both match it; the tenant part must be exact.
- `buyer.mobile` is `1` and ten ASCII digits (digits of other scripts are refused: one buyer would be two). A blank
  one (`""` or whitespace only) is absent, as a missing field is: it never refuses the message.
  A placeholder mobile (the built-in 13800000000 and 12345678901, and `ORDERINFO_MOBILE_PLACEHOLDERS`) counts as
  absent, as in an import: it never identifies a customer and is never stored; resolution moves on to the next
  identifier, and a buyer left with none is a `contract_violation`.
"""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BeforeValidator, ConfigDict, Field

from services.core import bounds
from services.core.keys import order_key
from services.core.order import NOT_BLANK, Order, Text, json_integer
from services.platform.topics import TopicSpec

SCHEMA_VERSION = 1
# A dead letter carries its record's value plus headers: room for them above the largest record.
DEAD_LETTER_BYTES = bounds.MAX_MESSAGE_BYTES + 64 * 1024
_MAX_BYTES = {"max.message.bytes": str(bounds.MAX_MESSAGE_BYTES)}
_DLQ_MAX_BYTES = {"max.message.bytes": str(DEAD_LETTER_BYTES)}
TOPIC = TopicSpec("orders.ingest.v1", configs=_MAX_BYTES)
_RETENTION = {"retention.ms": str(30 * 24 * 3600 * 1000)}
DLQ_TOPIC = TopicSpec("orders.ingest.dlq.v1", configs=_RETENTION | _DLQ_MAX_BYTES)
CONSUMER_GROUP = "orderinfo-ingest"


class OrderIngestV1(Order):
    """An order to upsert for a tenant. Re-sending the same content is harmless: it changes nothing."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, title="orders.ingest.v1")

    schema_version: Annotated[Literal[1], BeforeValidator(json_integer)] = 1
    tenant_id: UUID
    import_id: UUID | None = Field(default=None, description="The upload this order came from, if any.")
    producer: Text = Field(
        default="import", min_length=1, max_length=64, description="Who sent it.", json_schema_extra=NOT_BLANK
    )


def message_key(tenant_id: UUID, order_no: str) -> bytes:
    """Partition key: one order's messages stay on one partition, in order."""
    return order_key(tenant_id, order_no).encode()
