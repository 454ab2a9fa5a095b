"""Builders of import files shared by the parser tests (no tests here: the name only follows the tests layout)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

HEADER = [
    "Order No.*",
    "Order Source*",
    "Order Status*",
    "Order Time*",
    "Payment Time",
    "Store No.",
    "Store ID",
    "Product ID*",
    "Product SKU",
    "Product Name",
    "Quantity*",
    "Unit Price*",
    "Line Amount",
    "Order Amount",
    "Buyer Mobile",
    "Buyer Nickname",
    "Receiver Mobile",
    "Remark",
]
BASE = {
    "Order No.*": "A001",
    "Order Source*": "Youzan",
    "Order Status*": "Paid",
    "Order Time*": "2022-09-14 11:03:23",
    "Payment Time": "2022-09-14 11:05:00",
    "Store No.": "S1",
    "Store ID": "",
    "Product ID*": "P1",
    "Product SKU": "",
    "Product Name": "Tea",
    "Quantity*": "2",
    "Unit Price*": "10.50",
    "Line Amount": "21.00",
    "Order Amount": "21.00",
    "Buyer Mobile": "13912345678",
    "Buyer Nickname": "",
    "Receiver Mobile": "",
    "Remark": "",
}


def row(**changes: Any) -> dict[str, Any]:
    """A valid row, with changes keyed by header with spaces/dots/stars dropped: row(Quantity="3")."""
    out = dict(BASE)
    for short, value in changes.items():
        out[_header(short)] = value
    return out


def _header(short: str) -> str:
    for name in HEADER:
        if "".join(ch for ch in name if ch.isalnum()) == short:
            return name
    raise KeyError(short)


def csv_bytes(rows: Sequence[dict[str, Any]], header: Sequence[str] = HEADER, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[r.get(name, "") for name in header] for r in rows])
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(grid: Sequence[Sequence[Any]], title: str = "Orders", extra_sheets: Sequence[str] = ()) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for values in grid:
        sheet.append(list(values))
    for name in extra_sheets:
        book.create_sheet(name)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def grid_of(rows: Sequence[dict[str, Any]], header: Sequence[str] = HEADER) -> list[list[Any]]:
    return [list(header), *([r.get(name) for name in header] for r in rows)]
