"""One list of order columns builds the SQL, the row mapping and the values: it must be `OrderRow`'s fields."""

from __future__ import annotations

from dataclasses import fields

from services.ingest.adapters import sql
from services.ingest.domain.planning import OrderRow


def test_the_order_columns_are_the_order_row_fields_in_order() -> None:
    assert [name for name, _ in sql.ORDER_COLUMNS] == [f.name for f in fields(OrderRow)]


def test_the_upsert_writes_every_column_and_updates_all_but_the_key() -> None:
    names = [name for name, _ in sql.ORDER_WRITE_COLUMNS]
    assert f"r->>{len(names) - 1})" in sql.UPSERT_ORDERS and f"r->>{len(names)})" not in sql.UPSERT_ORDERS
    for name in names[2:]:
        assert f"{name} = EXCLUDED.{name}" in sql.UPSERT_ORDERS
    assert "tenant_id = EXCLUDED" not in sql.UPSERT_ORDERS and "order_no = EXCLUDED" not in sql.UPSERT_ORDERS
