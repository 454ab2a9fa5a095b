"""One list of order columns builds the SQL, the row mapping and the values: it must be `OrderRow`'s fields."""

from __future__ import annotations

from dataclasses import fields

from services.ingest.adapters import sql
from services.ingest.domain.planning import OrderRow


def test_the_order_columns_are_the_order_row_fields_in_order() -> None:
    assert [name for name, _ in sql.ORDER_COLUMNS] == [f.name for f in fields(OrderRow)]


def test_the_insert_and_the_update_write_every_column_and_the_update_all_but_the_key() -> None:
    names = [name for name, _ in sql.ORDER_WRITE_COLUMNS]
    for statement in (sql.INSERT_ORDERS, sql.UPDATE_ORDERS):
        assert f"r->>{len(names) - 1})" in statement and f"r->>{len(names)})" not in statement
    assert f"INSERT INTO orders ({', '.join(names)})" in sql.INSERT_ORDERS
    for name in names[2:]:
        assert f"{name} = u.{name}" in sql.UPDATE_ORDERS
    updated = sql.UPDATE_ORDERS.split("WHERE")[0]
    assert " tenant_id = u." not in updated and " order_no = u." not in updated
