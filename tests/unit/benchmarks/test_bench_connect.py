"""The Kafka Connect bench's record shaping: flat JSON-with-schema records as JsonConverter reads them."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from uuid import UUID

from benchmarks.bench_connect import SCHEMAS, decimal_bytes, flat_records, sink_properties, with_schema
from benchmarks.bench_ingest import order_dict

TENANT = UUID("00000000-0000-0000-0000-000000000001")


def _unscaled(encoded: str) -> int:
    return int.from_bytes(base64.b64decode(encoded), "big", signed=True)


def test_decimals_are_the_unscaled_value_in_twos_complement() -> None:
    assert decimal_bytes("59.80", 2) == base64.b64encode(bytes([0x17, 0x5C])).decode()
    for amount in ("0", "1.27", "1.28", "-1.28", "-0.01", "123456789.99"):
        assert Decimal(_unscaled(decimal_bytes(amount, 2))).scaleb(-2) == Decimal(amount)


def test_an_order_becomes_one_header_two_lines_and_its_buyer() -> None:
    records = flat_records(order_dict(TENANT, 7, 3))
    assert [len(records[k]) for k in ("orders", "order_lines", "customers")] == [1, 2, 1]
    ((key, header),) = records["orders"]
    assert key == {"tenant_id": str(TENANT), "order_no": "B00000007"}
    assert header["buyer_mobile"] == "13900000001" and _unscaled(header["paid_amount"]) == 5980
    assert [k["line_no"] for k, _ in records["order_lines"]] == [1, 2]
    assert records["customers"][0][0] == {"tenant_id": str(TENANT), "mobile": "13900000001"}
    assert records["customers"][0][1]["last_order_no"] == "B00000007"


def test_every_payload_matches_its_schema_and_keys_are_in_the_value() -> None:
    for kind, pairs in flat_records(order_dict(TENANT, 1, 1)).items():
        key_schema, value_schema = SCHEMAS[kind]
        for key, value in pairs:
            raw_key, raw_value = with_schema(kind, key, value)
            decoded_key, decoded_value = json.loads(raw_key), json.loads(raw_value)
            assert decoded_key == {"schema": key_schema, "payload": key}
            assert decoded_value["schema"] == value_schema
            assert [f["field"] for f in value_schema["fields"]] == list(decoded_value["payload"])
            assert key.items() <= decoded_value["payload"].items()


def test_the_sink_upserts_by_record_key_into_a_table_per_topic_and_run() -> None:
    props = dict(
        line.split("=", 1)
        for line in sink_properties("s", "cb1_orders", "_r2", 2, "postgresql://u:pw@127.0.0.1:15432/db").splitlines()
    )
    assert props["connection.url"] == "jdbc:postgresql://127.0.0.1:15432/db"
    assert (props["connection.username"], props["connection.password"]) == ("u", "pw")
    assert (props["insert.mode"], props["primary.key.mode"], props["tasks.max"]) == ("upsert", "record_key", "2")
    assert props["collection.name.format"] == "${topic}_r2"
