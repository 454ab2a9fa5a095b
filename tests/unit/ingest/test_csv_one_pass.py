"""A CSV file's records are read by one `csv.reader` pass (`read_csv_text`), read again record by record
(`_read_records`, the reader as it always was) past `max_sheet_rows` or at a `csv.Error`: whatever the file, the one
pass must answer what the record-by-record read answers (the same table, the same rows named, the same refusal)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from services.ingest.adapters import spreadsheet_reader
from services.ingest.adapters.spreadsheet_reader import read_csv_text, sniff_delimiter
from services.ingest.application.parsing import ImportFileError
from services.ingest.domain.spreadsheet.options import DEFAULT_OPTIONS, ImportOptions

SMALL = replace(DEFAULT_OPTIONS, max_rows=2)  # max_sheet_rows 1,004


def outcome(read: Any, text: str, options: ImportOptions) -> tuple[Any, ...]:
    try:
        table = read(text, options)
    except ImportFileError as refused:
        return ("refused", refused.code, refused.message)
    rows = [(row_no, list(cells)) for row_no, cells in table.rows]
    return ("read", table.header_row, table.header, rows, table.overlong_rows)


def record_by_record(text: str, options: ImportOptions) -> Any:
    return spreadsheet_reader._read_records(text, sniff_delimiter(text), options)


CASES = {
    "quoted newlines": '订单编号,备注\r\nA1,"two\nlines"\nA2,"three\r\nlines\rhere"\n\nA3,x\n',
    "mixed line ends": "订单编号,数量\rA1,1\r\nA2,2\nA3,3\r",
    "a BOM kept in the text": "\ufeff订单编号;数量\nA1;1\n",
    "tabs": "Order No.\tQty\n\nA1\t1\n",
    "a title above the header": "Shop A; 2026\n订单编号,数量\nA1,1\n",
    "overlong rows": "订单编号,数量\nA1,1,,\nA2,2,, x\nA3\n",
    "U+0000 and separators in cells": '订单编号,备注\nA1,"a\x00b"\nA2,\u2028\n',
    "only blank lines": "\n\r\n  \n",
    "empty": "",
    "too many data rows": "订单编号\n" + "A\n" * 5,
    "a quote never closed": '订单编号\nA1\n"A2\nA3\n',
    "text after a closing quote": '订单编号\nA1\n"A2"x\n',
    "blank lines past max_sheet_rows": "订单编号\nA1\n" + "\n" * 1_003,
    "blank lines up to max_sheet_rows": "订单编号\nA1\n" + "\n" * 1_002,
    "a quote never closed past max_sheet_rows": "订单编号\nA1\n" + "\n" * 1_003 + '"x\n',
    "a quote never closed at the bound": "订单编号\nA1\n" + "\n" * 1_001 + '"x\n',
}


@pytest.mark.parametrize("text", list(CASES.values()), ids=list(CASES))
def test_one_pass_answers_as_the_record_by_record_read(text: str) -> None:
    assert outcome(read_csv_text, text, SMALL) == outcome(record_by_record, text, SMALL)


def test_one_pass_answers_as_the_record_by_record_read_on_random_texts() -> None:
    pieces = ["订单编号", "Order No.", "A1", "", '"', '""', '"a\nb"', ",", ";", "\t", "\n", "\r\n", "\r", " ", "合计"]
    rng = random.Random(7)
    for _ in range(3_000):
        head = rng.choice(["订单编号,商品\n", "Order No.;Qty\r\n", "", "title\n"])
        text = head + "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        options = replace(DEFAULT_OPTIONS, max_rows=rng.choice([0, 1, 3, 100]))
        assert outcome(read_csv_text, text, options) == outcome(record_by_record, text, options), text
