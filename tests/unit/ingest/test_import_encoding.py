"""An upload's messages are encoded without a model per order: the bytes are exactly the contract model's JSON."""

from __future__ import annotations

import json
import uuid

from services.ingest.application.imports import encode_orders, message
from services.ingest.application.parsing import parse_import
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from tests.unit.ingest.test_import_support import csv_bytes, row


def test_encoded_messages_are_the_contract_models_json_byte_for_byte() -> None:
    rows = [
        row(BuyerNickname='小明 "quoted" \\ back', Remark="备注\nline"),
        row(ProductID="P2", Quantity="1", UnitPrice="¥1,299", LineAmount="", BuyerNickname='小明 "quoted" \\ back'),
        row(OrderNo="B-2", PaymentTime="", OrderAmount="", BuyerMobile="", BuyerNickname="Lily"),
        row(OrderNo="C-3", OrderTime="2026-11-30T14:00:00+09:00", PaymentTime=""),
    ]
    parsed = parse_import(csv_bytes(rows), "orders.csv")
    assert parsed.errors == [] and len(parsed.orders) == 3
    tenant_id, import_id = uuid.uuid4(), uuid.uuid4()
    for order, item in zip(parsed.orders, encode_orders(parsed.orders, tenant_id, import_id), strict=True):
        assert item.value == message(order, tenant_id, import_id).model_dump_json().encode()
        decoded = OrderIngestV1.model_validate(json.loads(item.value))
        assert (decoded.tenant_id, decoded.import_id, decoded.producer) == (tenant_id, import_id, "import")
        assert decoded.order_no == order.order_no and decoded.lines == order.lines
