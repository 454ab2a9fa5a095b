"""The fast reader of `orders.ingest.v1` against the model, on plain, random and hostile values: whenever the reader
answers, the model accepts the value and builds the same message (values, types, zones, set fields); the reader
answers for the plain spelling producers send; and the consumer decides every record as the model alone did."""

from __future__ import annotations

import copy
import json
import os
import random
import time
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from services.ingest.application import ingestion
from services.ingest.application.ingestion import Received, decode
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1, message_key
from services.ingest.contracts.orders_ingest_v1_reader import read_plain

TENANT = uuid.UUID("0b7c4f3e-2d6a-4c1b-9e8f-5a4b3c2d1e0f")


def plain() -> dict[str, Any]:
    return {
        "tenant_id": str(TENANT),
        "import_id": "5f0e8a1c-3b2d-4e6f-8a9b-0c1d2e3f4a5b",
        "producer": "import",
        "order_no": "A-1",
        "source": "taobao",
        "status": "paid",
        "status_raw": "已付款",
        "order_time": "2026-01-01T08:00:00+08:00",
        "payment_time": "2026-01-01T08:05:00.5Z",
        "store": {"store_no": "S1", "name": "Store 1"},
        "buyer": {"mobile": "13912345678", "nickname": "买家"},
        "receiver": {"name": "R", "mobile": "139", "address": "Road 1"},
        "order_amount": "59.80",
        "paid_amount": "59.8",
        "remark": "gift",
        "lines": [
            {"product_id": "P1", "sku": "red", "product_name": "T-shirt", "quantity": 1, "unit_price": "19.90"},
            {"product_id": "P2", "sku": "", "quantity": 2, "unit_price": "19", "line_amount": "38.00", "row_no": 3},
        ],
    }


def by_model(value: bytes) -> OrderIngestV1 | None:
    try:
        return OrderIngestV1.model_validate_json(value)
    except ValidationError:
        return None


def same(a: BaseModel, b: BaseModel) -> None:
    """Equal as the consumer sees them: values, field order, types and set fields, nested; times the same instant
    with the same offset and text (the reader's zone is a `datetime.timezone`, the model's a pydantic `TzInfo`)."""
    assert type(a) is type(b)
    assert list(vars(a)) == list(vars(b))
    assert a.model_fields_set == b.model_fields_set
    for name, value in vars(a).items():
        other = vars(b)[name]
        values = value if isinstance(value, list) else [value]
        others = other if isinstance(other, list) else [other]
        for x, y in zip(values, others, strict=True):
            if isinstance(x, BaseModel):
                same(x, y)
            elif isinstance(x, datetime):
                assert (x, x.utcoffset(), x.isoformat()) == (y, y.utcoffset(), y.isoformat()), name
            else:
                assert (type(x), x) == (type(y), y), name
                assert not isinstance(x, Decimal) or str(x) == str(y), name  # the same places, not only equal


def check(value: bytes) -> OrderIngestV1 | None:
    fast = read_plain(value)
    if fast is not None:
        model = by_model(value)
        assert model is not None, "the reader accepted what the model refuses"
        same(fast, model)
    return fast


def test_the_plain_spelling_is_read_fast() -> None:
    assert check(json.dumps(plain()).encode()) is not None
    minimal = {k: v for k, v in plain().items() if k not in {"import_id", "producer", "receiver", "remark"}}
    assert check(json.dumps(minimal, ensure_ascii=False).encode()) is not None


HOSTILE_TEXT = [
    "",
    " ",
    " A-1 ",
    "\tA\n",
    "\u3000A",
    "A\u00a0",
    "\x1cA",
    "A\x1f",
    "A\x00",
    "A\ud800",
    "\ufffe",
    ".",
    "..",
    " .. ",
    "x" * 64,
    "x" * 65,
    " " + "x" * 64,
    "é" * 64,
    "😀" * 64,
    "😀" * 65,
    "\u2028A",
    "A\u0085",
]
HOSTILE_VALUES: list[Any] = [None, True, 0, 1, -1, 1.0, 2.5, 1e308, [], {}, "1", 2**70]
TIMES = [
    "2026-01-01T08:00:00Z",
    "2026-01-01T08:00:00z",
    "2026-01-01t08:00:00Z",
    "2026-01-01 08:00:00Z",
    "2026-01-01T08:00:00",
    "2026-01-01T08:00Z",
    "2026-01-01T08:00:00.1234567Z",
    "2026-01-01T08:00:00.000001+08:00",
    "2026-01-01T08:00:00+0800",
    "2026-01-01T08:00:00+24:00",
    "2026-01-01T08:00:00+23:59",
    "2026-01-01T08:00:00-23:59",
    "2026-01-01T08:00:00+08:60",
    "2026-01-01T24:00:00Z",
    "2026-01-01T23:59:60Z",
    "2026-02-29T00:00:00Z",
    "2028-02-29T00:00:00Z",
    "2000-01-01T00:00:00Z",
    "2000-01-01T07:59:59+08:00",
    "2000-01-01T08:00:00+08:00",
    "2099-12-31T23:59:59.999999Z",
    "2099-12-31T20:00:00-04:00",
    "1999-12-31T23:59:59-00:01",
    "２026-01-01T08:00:00Z",
    " 2026-01-01T08:00:00Z",
    "1767225600",
]
MONEY = [
    "0",
    "0.0",
    "0.00",
    "0.001",
    "12.5",
    "12.50",
    "12.500",
    "-1",
    "+1",
    "1e2",
    "1E+2",
    " 1",
    "1,000",
    "٣",
    "1.",
    ".5",
    "999999999999.99",
    "999999999999.999",
    "1000000000000",
    "000000000001.50",
    "0000000000001.5",
    "NaN",
]
UUIDS = [
    str(TENANT),
    str(TENANT).upper(),
    str(TENANT).replace("-", ""),
    "{" + str(TENANT) + "}",
    "urn:uuid:" + str(TENANT),
    str(uuid.UUID(int=0)),
    "00000000-0000-0000-0000-00000000000g",
    "",
]
PATHS: list[tuple[str, ...]] = [
    ("order_no",), ("source",), ("status",), ("status_raw",), ("order_time",), ("payment_time",), ("remark",),
    ("producer",), ("tenant_id",), ("import_id",), ("schema_version",), ("order_amount",), ("paid_amount",),
    ("store", "store_no"), ("store", "store_id"), ("store", "name"), ("buyer", "mobile"), ("buyer", "nickname"),
    ("buyer", "sobot_customer_id"), ("buyer", "unionid"), ("receiver", "name"), ("receiver", "address"),
    ("lines", 0, "product_id"), ("lines", 0, "sku"), ("lines", 1, "sku"), ("lines", 0, "product_name"),
    ("lines", 0, "quantity"), ("lines", 1, "quantity"), ("lines", 0, "unit_price"), ("lines", 0, "line_amount"),
    ("lines", 1, "row_no"), ("store",), ("buyer",), ("receiver",), ("lines",), ("extra",), ("store", "extra"),
    ("lines", 0, "extra"),
]  # fmt: skip
ANY_VALUE = st.sampled_from(HOSTILE_TEXT + HOSTILE_VALUES + TIMES + MONEY + UUIDS + ["paid", "youzan", "13912345678"])
MISSING = object()


def changed(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target: Any = document
    for step in path[:-1]:
        try:
            target = target[step]
        except (KeyError, IndexError, TypeError):
            return document  # an earlier change replaced the parent
    in_list = isinstance(target, list) and isinstance(path[-1], int) and path[-1] < len(target)
    if not isinstance(target, dict) and not in_list:
        return document
    if value is MISSING:
        if isinstance(target, dict):
            target.pop(path[-1], None)
    else:  # a copy: the hostile values are shared constants, and a later change may write into this one
        target[path[-1]] = copy.deepcopy(value)
    return document


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(ANY_VALUE, st.just(MISSING), st.text(max_size=8))), max_size=4
    ),
    st.booleans(),
)
def test_the_reader_answers_only_what_the_model_answers(changes: list[tuple[Any, Any]], ascii_only: bool) -> None:
    document = plain()
    for path, value in changes:
        document = changed(document, path, value)
    check(json.dumps(document, ensure_ascii=ascii_only).encode(errors="surrogatepass"))


def test_many_seeded_changes() -> None:
    """Thousands of one- and two-field changes (seeded: the same every run), beside hypothesis's search."""
    chooser = random.Random(15)
    values = [*HOSTILE_TEXT, *HOSTILE_VALUES, *TIMES, *MONEY, *UUIDS, MISSING]
    answered = 0
    for _ in range(4000):
        document = plain()
        for _ in range(chooser.randint(1, 2)):
            document = changed(document, chooser.choice(PATHS), chooser.choice(values))
        answered += check(json.dumps(document, ensure_ascii=False).encode(errors="surrogatepass")) is not None
    assert answered > 500  # the reader answers for many of them (the rest goes to the model)


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"null",
        b"[]",
        b'"x"',
        b"{",
        b"\xff",
        b'{"a": NaN}',
        json.dumps(plain()).encode() + b" ",
        b" " + json.dumps(plain()).encode(),
        json.dumps(plain()).encode().replace(b'"order_no": "A-1"', b'"order_no": "A-1", "order_no": "B-2"'),
        json.dumps(plain()).encode().replace(b'"order_no": "A-1"', b'"order_no": "A\\u002d1"'),
        json.dumps(plain()).encode().replace(b'"order_no": "A-1"', b'"order_no": "A\\ud800"'),
        json.dumps(plain()).encode().replace(b'"quantity": 2', b'"quantity": 2.0'),
        json.dumps(plain()).encode().replace(b'"quantity": 2', b'"quantity": 99999999999999999999999'),
        json.dumps(plain()).encode().replace(b'"quantity": 2', b'"quantity": -0'),
        json.dumps(plain()).encode().replace(b'"quantity": 2', b'"quantity": 2e0'),
        b"[" * 5000 + b"]" * 5000,
        *(
            json.dumps(plain()).encode().replace(b'"order_no": "A-1"', b'"order_no":' + raw + b'"A-1"')
            for raw in (b"\x0c", b"\x0b", b"\x00", b"\xc2\xa0", b"\x1f", b"\x7f")  # whitespace JSON does not allow
        ),
        *(
            json.dumps(plain()).encode().replace(b'"A-1"', b'"A' + raw + b'1"', 1)
            for raw in (b"\x0c", b"\x00", b"\x1f", b"\x7f", b"\xc0\xaf", b"\xed\xa0\x80", b"\xef\xbf\xbe")  # raw
        ),
        json.dumps(plain()).encode()[:-1] + b",}",
        json.dumps(plain()).encode().replace(b'"quantity": 2', b'"quantity": 02'),
        json.dumps(plain()).encode().replace(b'"quantity": 2', b'"quantity": +2'),
        json.dumps(plain()).encode() * 2,
        json.dumps(plain()).encode("utf-16"),
    ],
)
def test_hostile_bytes(value: bytes) -> None:
    check(value)


@given(st.binary(max_size=64))
def test_random_bytes(value: bytes) -> None:
    check(value)


def test_many_lines_and_duplicates() -> None:
    document = plain()
    line = document["lines"][0]
    document["lines"] = [{**line, "product_id": f"P{i}"} for i in range(500)]
    assert check(json.dumps(document).encode()) is not None
    document["lines"].append({**line, "product_id": "P500"})
    assert check(json.dumps(document).encode()) is None
    document["lines"] = [line, dict(line)]
    assert check(json.dumps(document).encode()) is None
    document["lines"] = [{**line, "quantity": 1_000_000, "unit_price": "9999999.99"}]
    assert check(json.dumps(document).encode()) is None
    document["lines"] = [{**line, "quantity": 1, "unit_price": "999999999999.99"}, {**line, "product_id": "Q"}]
    assert check(json.dumps(document).encode()) is None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(PATHS), st.one_of(ANY_VALUE, st.just(MISSING), st.text(max_size=8))), max_size=3
    ),
    st.sampled_from([None, b"", b"other:A-1", message_key(TENANT, "A-1"), message_key(TENANT, " A-1 ")]),
)
def test_the_consumer_decides_as_the_model_alone_did(changes: list[tuple[Any, Any]], key: bytes | None) -> None:
    """Every record is accepted or dead-lettered with the same reason and words, with the reader and without it."""
    document = plain()
    for path, value in changes:
        document = changed(document, path, value)
    records = [Received(0, "t", 0, 0, key, json.dumps(document, ensure_ascii=False).encode(errors="surrogatepass"))]
    with_reader = decode(records)
    original, ingestion.read_plain = ingestion.read_plain, lambda value: None
    try:
        without = decode(records)
    finally:
        ingestion.read_plain = original
    assert with_reader[1] == without[1]
    assert [(i.ref, i.tenant_id, i.import_id, i.producer) for i in with_reader[0]] == [
        (i.ref, i.tenant_id, i.import_id, i.producer) for i in without[0]
    ]
    for fast, slow in zip(with_reader[0], without[0], strict=True):
        same(fast.order, slow.order)


# A hostile generator beside hypothesis's: values no list above names (random code points of every plane, escapes
# spelled by hand, lone and paired surrogates, huge and signed integers, exponents, duplicate keys, whitespace
# between tokens, nested extras), spliced into the plain document's text. Seeded from the clock unless
# ORDERINFO_READER_SEED is set; the seed is printed so that a failure can be replayed; bounded by CPU time.
_ODD_CHARS = "\x00\x01\x08\t\n\x0b\x0c\r\x1c\x1f \x7f\x85\xa0\u1680\u180e\u2000\u200b\u2028\u202f\u3000\ufeff\ufffd"


def _odd_text(chooser: random.Random) -> str:
    """JSON string text (the inside of the quotes), hostile: raw characters, \\u escapes, surrogates."""
    parts = []
    for _ in range(chooser.choice([0, 1, 2, 5, 64, 65, 300])):
        kind = chooser.random()
        if kind < 0.35:
            parts.append(chooser.choice("Aa1-_. é😀中"))
        elif kind < 0.55:
            char = chooser.choice(_ODD_CHARS)
            parts.append(json.dumps(char, ensure_ascii=chooser.random() < 0.5)[1:-1])
        elif kind < 0.7:
            parts.append(f"\\u{chooser.choice([0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFE, 0xFFFF, 0, 0x2F]):04x}")
        elif kind < 0.8:
            parts.append("\\ud83d\\ude00" if chooser.random() < 0.5 else "\\uD83D\\uDE00")
        else:
            parts.append(chr(chooser.choice([0x10FFFF, 0xFDD0, 0x1FFFE, 0xE000, 0x0300, 0x202E])))
    return "".join(parts)


def _odd_json(chooser: random.Random) -> str:
    """One JSON value's text, hostile."""
    kind = chooser.randrange(9)
    if kind == 0:
        return '"' + _odd_text(chooser) + '"'
    if kind == 1:
        return chooser.choice(["0", "-0", "1", "2", "-1", str(2**63), str(2**64), str(-(2**63) - 1), "9" * 400])
    if kind == 2:
        return chooser.choice(["1.0", "1e0", "1E2", "-0.0", "0.005", "1e400", "NaN", "Infinity", "-Infinity"])
    if kind == 3:
        digits = "".join(chooser.choice("0123456789") for _ in range(chooser.randint(1, 14)))
        decimals = "".join(chooser.choice("0123456789") for _ in range(chooser.randint(0, 3)))
        return f'"{digits}.{decimals}"' if decimals else f'"{digits}"'
    if kind == 4:
        year = chooser.choice([1999, 2000, 2026, 2099, 2100])
        day = f"{year}-{chooser.randint(1, 13):02d}-{chooser.randint(1, 31):02d}"
        clock = f"{chooser.randint(0, 24):02d}:{chooser.randint(0, 60):02d}:{chooser.randint(0, 60):02d}"
        fraction = chooser.choice(["", ".5", ".000001", ".9999999"])
        zone = chooser.choice(["Z", "", "+00:00", "-00:00", "+23:59", "+24:00", "-12:00", "+08:00", "+0800"])
        return f'"{day}T{clock}{fraction}{zone}"'
    if kind == 5:
        return chooser.choice(["null", "true", "false", "[]", "{}", '{"x": 1}', '[{"a": [{}]}]'])
    if kind == 6:
        return f'"{uuid.UUID(int=chooser.getrandbits(128))}"'
    if kind == 7:
        return '"' + chooser.choice(["paid", "taobao", "13912345678", " 13912345678", "A-1", ".", ".."]) + '"'
    return '"' + chooser.choice(" \t\n\r") + "A" + chooser.choice(["", " ", "\\u3000", "\\u00a0", "\\n"]) + '"'


def _hostile_document(chooser: random.Random) -> bytes:
    text = json.dumps(plain(), ensure_ascii=chooser.random() < 0.5)
    for _ in range(chooser.randint(1, 3)):
        name = chooser.choice([p[-1] for p in PATHS if isinstance(p[-1], str)])
        found = [i for i in range(len(text)) if text.startswith(f'"{name}": ', i)]
        if not found:
            continue
        at = chooser.choice(found) + len(name) + 4
        end = _value_end(text, at)
        how = chooser.random()
        if how < 0.6:  # replace the value
            text = text[:at] + _odd_json(chooser) + text[end:]
        elif how < 0.8:  # the same key again (before or after): JSON leaves duplicates to the reader
            again = f'"{name}": {_odd_json(chooser)}, '
            start = at - len(name) - 4
            text = text[:start] + again + text[start:] if how < 0.7 else text[:end] + ", " + again[:-2] + text[end:]
        else:  # whitespace (JSON's and not) between the tokens
            text = text[:at] + chooser.choice([" ", "\t", "\n", "\r", "\u00a0", "\u3000"]) + text[at:]
    encoded = text.encode("utf-8", errors="surrogatepass")
    return (b"\xef\xbb\xbf" + encoded) if chooser.random() < 0.02 else encoded


def _value_end(text: str, at: int) -> int:
    """Where the JSON value starting at `at` ends (its text came from json.dumps: strings, numbers, null, nested)."""
    depth, index, in_string = 0, at, False
    while index < len(text):
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
                if depth == 0:
                    return index + 1
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            if depth == 0:
                return index
            depth -= 1
            if depth == 0:
                return index + 1
        elif char == "," and depth == 0:
            return index
        index += 1
    return index


def test_a_hostile_generator() -> None:
    """Random hostile documents for about two seconds of CPU; the seed is printed (replay: ORDERINFO_READER_SEED)."""
    seed = int(os.environ.get("ORDERINFO_READER_SEED") or time.time_ns() % 2**32)
    print(f"hostile reader seed: ORDERINFO_READER_SEED={seed}")
    chooser = random.Random(seed)
    deadline, tried, answered = time.process_time() + 2.0, 0, 0
    while time.process_time() < deadline or tried < 300:
        value = _hostile_document(chooser)
        answered += check(value) is not None
        tried += 1
    assert answered > 0, seed


def test_a_hostile_run_of_distinct_amounts_keeps_the_amount_cache_bounded_and_every_amount_exact() -> None:
    """The reader keeps a plain amount's text -> Decimal per process (amounts repeat from record to record): a
    producer sending a million distinct amounts must not grow it past its bound, and an amount read from the cache
    is the amount its text spells, with two places (the same text read again, after any number of others)."""
    from services.ingest.contracts import orders_ingest_v1_reader as reader

    texts = [f"{n}.{n % 100:02d}" if n % 3 else str(n) if n % 2 else f"{n}.{n % 10}" for n in range(1, 20_001)]
    for text in texts:
        document = plain()
        document["order_amount"] = text
        message = read_plain(json.dumps(document).encode())
        assert message is not None and message.order_amount == Decimal(text).quantize(Decimal("0.01"))
        assert message.order_amount.as_tuple().exponent == -2
        assert len(reader._MONEYS) <= 4096
    for text in ("1", "1.5", "1.50", "01.50", "999999999999.99"):
        for _ in range(2):  # read, then answered from the cache
            document = plain()
            document["paid_amount"] = text
            message = read_plain(json.dumps(document).encode())
            assert message is not None and str(message.paid_amount) == str(Decimal(text).quantize(Decimal("0.01")))
