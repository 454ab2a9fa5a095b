"""The messages an import publishes: the worst case the template allows fits `bounds.MAX_MESSAGE_BYTES` (so the
up-front size refusal is a guard users never meet), the refusal itself, and the texts of a publishing failure."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from pydantic import BaseModel

from services.core import bounds
from services.ingest.application.imports import (
    RECORD_OVERHEAD,
    encode_orders,
    publishing_failure,
    storable_filename,
)
from services.ingest.application.parsing import ImportFileError, parse_import
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.template import COLUMNS, Kind
from tests.unit.ingest.test_import_support import csv_bytes, row

WIDE = "\U00020000"  # 4 bytes in UTF-8, the most any allowed character takes in the JSON of a message
TENANT = uuid.UUID("00000000-0000-0000-0000-000000000001")


class _Text(BaseModel):
    text: str


@pytest.mark.parametrize("char", ["\t", "\n", "\r", '"', "\\", "\u2028", "\x7f", "\x85", "\ufeff", "é", "中", WIDE])
def test_no_storable_character_takes_more_than_four_bytes_in_a_message(char: str) -> None:
    assert len(_Text(text=char * 10).model_dump_json().encode()) - len('{"text":""}') <= 4 * 10


def _wide_id(prefix_length: int, index: int) -> str:
    """A distinct text of `prefix_length` + 3 four-byte characters."""
    digits = [(index >> shift) & 0xF for shift in (8, 4, 0)]
    return WIDE * prefix_length + "".join(chr(0x20001 + d) for d in digits)


def _worst_value(key: str, kind: Kind, max_length: int | None, line: int) -> str:
    fixed = {
        "source": "Self-developed mall of brand",
        "status": "P" + "\u3000" * 59 + "aid",  # the raw status is kept: 63 characters that still read "Paid"
        "order_time": "2022-09-14 11:03:23",
        "payment_time": "2022-09-14 11:05:00",
        "quantity": "1",
        "unit_price": "1999999999.99",  # 500 of them: the largest order total that is still storable
        "line_amount": "1999999999.99",
        "order_amount": "999999999999.99",
        "paid_amount": "999999999999.99",
        "buyer_mobile": "13912345678",
    }
    if key in fixed:
        return fixed[key]
    assert max_length is not None, key
    if key in ("product_id", "sku"):
        return _wide_id(max_length - 3, line)
    return WIDE * max_length


def worst_case_file() -> bytes:
    """One order of `MAX_LINES_PER_ORDER` rows, every column of the template filled to its limit with 4-byte
    characters: the largest message an accepted file can make."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.header for column in COLUMNS])
    for line in range(bounds.MAX_LINES_PER_ORDER):
        writer.writerow([_worst_value(c.key, c.kind, c.max_length, line) for c in COLUMNS])
    return buffer.getvalue().encode()


def test_the_largest_message_an_accepted_file_can_make_fits_the_message_bound() -> None:
    parsed = parse_import(worst_case_file(), "worst.csv")
    assert parsed.errors == [] and len(parsed.orders) == 1
    (order,) = parsed.orders
    assert len(order.lines) == bounds.MAX_LINES_PER_ORDER and len(order.remark or "") == 1000
    (message,) = encode_orders(parsed.orders, TENANT, uuid.uuid4())
    size = len(message.key) + len(message.value) + RECORD_OVERHEAD
    print(f"worst-case import message: {size:,} bytes (bound {bounds.MAX_MESSAGE_BYTES:,})")
    assert size <= bounds.MAX_MESSAGE_BYTES // 4, "it should even fit Kafka's default 1 MiB"


def test_a_message_over_the_bound_is_refused_before_anything_is_published(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = parse_import(worst_case_file(), "worst.csv")
    monkeypatch.setattr(bounds, "MAX_MESSAGE_BYTES", 100_000)
    with pytest.raises(ImportFileError) as caught:
        encode_orders(parsed.orders, TENANT, uuid.uuid4())
    assert caught.value.code == issues.ORDER_TOO_LARGE and "at most 100,000 bytes" in caught.value.message


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("orders\x00.csv", "orders\ufffd.csv"),
        ("a\x07b\ud800.xlsx", "a\ufffdb\ufffd.xlsx"),
        (None, "upload"),
        ("  ", "upload"),
        ("x" * 300 + ".csv", "x" * 251 + ".csv"),  # cut in its stem: the suffix says what the file is
        ("订单" * 200 + ".xlsx", ("订单" * 200)[:250] + ".xlsx"),
        ("orders.csv\u200e", "orders.csv"),  # a direction mark a copy or a Windows dialog appends
        ("\u202eorders\u202dxslx.csv", "ordersxslx.csv"),  # an override that shows the name reversed
        ("\u200border\ufeffs .xlsx\u2066 ", "orders .xlsx"),
        ("C:\\fakepath\\orders.csv", "orders.csv"),  # what some browsers send
        ("\u200b", "upload"),
        ("x." + "y" * 300, ("x." + "y" * 300)[:255]),  # no suffix worth keeping: cut at the end
    ],
)
def test_the_recorded_file_name_is_cleaned_not_refused(name: str | None, stored: str) -> None:
    assert storable_filename(name) == stored


@pytest.mark.parametrize("name", ["x" * 300 + ".csv", "orders.csv\u200e", "订单\u202e.csv", "orders.csv\u200b "])
def test_a_long_file_name_or_one_with_an_invisible_suffix_is_read_by_its_suffix(name: str) -> None:
    parsed = parse_import(csv_bytes([row()]), storable_filename(name))
    assert parsed.errors == [] and parsed.counts.rows == 1


def test_a_publishing_failure_names_what_was_published_and_what_not() -> None:
    published = [f"A{i}" for i in range(12)]
    text = publishing_failure(published, ["B1"])
    assert text.startswith('publishing failed: 1 of 13 orders were not published ("B1")')
    assert '12 were published and are stored as they arrive ("A0", "A1"' in text and "and 2 more" in text
    assert "Upload the file again" in text
    assert "published and are stored" not in publishing_failure([], ["B1", "B2"])
