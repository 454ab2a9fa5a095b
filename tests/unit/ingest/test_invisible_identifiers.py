"""Invisible formatting characters in identifiers (a zero-width space, a direction mark, a BOM copied along from
a web page or a chat): `A001` and `A001` + U+200B look alike on every screen but would be two orders, two products,
two stores. Refused with the character and its position on every path (upload, the topic, the push API, which
validates with the contract); texts keep them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from services.core import bounds
from services.ingest.application.parsing import parse_import
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from services.ingest.contracts.orders_ingest_v1_reader import read_plain
from services.ingest.domain.language import Lang, issue_message
from services.ingest.domain.spreadsheet import issues
from tests.unit.ingest.test_import_support import csv_bytes, grid_of, row, xlsx_bytes
from tests.unit.ingest.test_ingest_reader import plain

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202e", "\u2060", "\u2066", "\ufeff", "\u00ad"]
ID_COLUMNS = {"OrderNo": "Order No.", "StoreNo": "Store No.", "ProductID": "Product ID", "ProductSKU": "Product SKU"}


@pytest.mark.parametrize("char", INVISIBLE)
def test_bounds_name_the_character_and_its_position(char: str) -> None:
    assert bounds.invisible_char(f"A0{char}01") == char
    problem = bounds.identifier_problem(f"A0{char}01")
    assert problem is not None and f"U+{ord(char):04X} at position 3" in problem
    assert bounds.identifier_problem("店铺一号-A001") is None and bounds.identifier_problem("A001") is None


@pytest.mark.parametrize("column", ID_COLUMNS)
@pytest.mark.parametrize("flavour", ["csv", "xlsx"])
def test_an_invisible_character_in_an_identifier_cell_is_its_rows_error_in_both_languages(
    column: str, flavour: str
) -> None:
    changed = {"OrderNo": "B\u200b2"} if column == "OrderNo" else {"OrderNo": "B2", column: "X\u200b1"}
    rows = [row(OrderNo="B1"), row(**changed), row(OrderNo="B3")]
    data = csv_bytes(rows) if flavour == "csv" else xlsx_bytes(grid_of(rows))
    parsed = parse_import(data, f"orders.{flavour}")
    assert [(e.row, e.column, e.code) for e in parsed.errors] == [(3, ID_COLUMNS[column], issues.INVISIBLE_CHARACTER)]
    assert sorted(o.order_no for o in parsed.orders) == ["B1", "B3"]
    (issue,) = parsed.errors
    assert "U+200B at position 2" in issue.message
    chinese = issue_message(issue.code, issue.row, issue.column, issue.value, issue.message, Lang.ZH)
    assert "不可见字符 U+200B" in chinese and "第 2 个字符" in chinese and "第 3 行" in chinese


def test_texts_keep_invisible_characters() -> None:
    parsed = parse_import(csv_bytes([row(ProductName="茶\u200d叶", Remark="\u200fnote")]), "orders.csv")
    assert parsed.errors == [] and parsed.orders[0].lines[0].product_name == "茶\u200d叶"


def _message(**changes: Any) -> dict[str, Any]:
    """The reader tests' plain message, with invisible characters in its names (kept), changed at `changes`."""
    base = plain()
    base["store"]["name"], base["buyer"]["nickname"] = "店铺\u200b一号", "\u200e小明"
    for path, value in changes.items():
        target = base
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part] if not part.isdigit() else target[int(part)]
        target[leaf] = value
    return base


@pytest.mark.parametrize(
    "path", ["order_no", "store.store_no", "store.store_id", "lines.0.product_id", "lines.0.sku", "buyer.unionid"]
)
@pytest.mark.parametrize("ascii_only", [True, False])
def test_the_contract_and_its_fast_reader_refuse_an_invisible_character_in_an_identifier(
    path: str, ascii_only: bool
) -> None:
    value = json.dumps(_message(**{path: "X\ufeff1"}), ensure_ascii=ascii_only).encode()
    assert read_plain(value) is None  # the model decides, and refuses
    with pytest.raises(ValidationError, match="U\\+FEFF at position 2"):
        OrderIngestV1.model_validate_json(value)


def test_names_and_nicknames_keep_them_on_the_topic_too() -> None:
    value = json.dumps(_message(), ensure_ascii=False).encode()
    message = read_plain(value)
    assert message is not None and message == OrderIngestV1.model_validate_json(value)
    assert message.store.name == "店铺\u200b一号"
