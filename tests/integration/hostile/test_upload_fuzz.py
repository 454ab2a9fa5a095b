"""Fuzzed uploads against the real app, broker and database: generated workbooks and CSV files (odd cells,
encodings with and without BOM, `_xHHHH_` escapes, number cells of many digits, formulas, dates, empty and
oversized orders) never make the API answer 500, and the dry run and the real import of the same file agree.

Bounded in time: `ORDERINFO_FUZZ_EXAMPLES` examples (default 30), each within a deadline; the seed is printed
(and in every failure message); replay one with `ORDERINFO_FUZZ_SEED=<seed>`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from services.ingest.domain.spreadsheet.template import COLUMNS, Column, Kind
from tests.integration.hostile.conftest import Api, upload

# The app, broker clients and consumer run on the event loop while hypothesis generates in its own thread; they
# use the `random` module, which hypothesis then reports as if the strategies did.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]
SEED = int(os.environ.get("ORDERINFO_FUZZ_SEED") or random.randrange(2**32))
EXAMPLES = int(os.environ.get("ORDERINFO_FUZZ_EXAMPLES", "30"))
DEADLINE = timedelta(seconds=30)  # per example: two uploads and two reads, on a shared 2-core machine
COMPARED = ("rows", "valid_rows", "invalid_rows", "orders_held_back", "first_errors")
UNSTORABLE = ["\x00", "\x01", "\x07", "\x1b", "\x0c", "\x1f", "\ufffe", "\uffff"]
ESCAPES = ["_x0000_", "_x0007_", "_x001B_", "_xD800_", "_x0041_", "_xFFFE_", "_x000D_", "_x005F_"]
FORMULAS = ["=1+1", "=A1", '=HYPERLINK("http://x","y")', "=1/0", "+1", "-1", "@SUM(A1)"]

# --- cells --------------------------------------------------------------------------------------------------

VALID: dict[Kind, st.SearchStrategy[Any]] = {
    Kind.ID: st.sampled_from(["A1", "A2", "B", "123456789012345678", 12345]),
    Kind.TEXT: st.sampled_from(["Tea", "茶叶", "Lily 🛒", "x" * 255, ""]),
    Kind.SOURCE: st.sampled_from(["Youzan", "有赞", "JD", "xiaoe_tech"]),
    Kind.STATUS: st.sampled_from(["Paid", "已付款", "Shipped"]),
    Kind.TIME: st.sampled_from(["2022-09-14 11:03:23", "2022/09/14 11:03:23", datetime(2022, 9, 14, 11, 3, 23)]),
    Kind.QUANTITY: st.sampled_from(["1", "2", 3]),
    Kind.MONEY: st.sampled_from(["10.50", "¥1,299.00", 59.9, ""]),
    Kind.MOBILE: st.sampled_from(["13912345678", "+86 139 1234 5678", 13912345678]),
    Kind.RECEIVER_MOBILE: st.sampled_from(["13912345678", "021-5555", ""]),
}
# Plausible but refused (or at the very edge) values of each kind.
EDGE: dict[Kind, list[Any]] = {
    Kind.ID: [123456789012345678, 1234567890123456789, 12.5, 999999999999999, "1.23E+17", "x" * 65],
    Kind.TEXT: ["x" * 1001],
    Kind.SOURCE: ["Pinduoduo"],
    Kind.STATUS: ["Teleported", "P" + " " * 70 + "aid"],
    Kind.TIME: [
        "2000-01-01 00:00:00",
        "2099-12-31 23:59:59",
        "0001-01-01 00:00:00",
        "9999-12-31 23:59:59",
        "2022-02-30 10:00:00",
        datetime(1900, 1, 1, 12),
        datetime(9999, 12, 31, 23, 59),
    ],
    Kind.QUANTITY: ["1000000", 1000000, "0", "2.5", "1" * 30],
    Kind.MONEY: ["999999999999.99", 999999999999.99, "1" * 28, "9" * 40, "1e5", "-1", 1e30, "0.001"],
    Kind.MOBILE: ["13800000000", "12345"],
    Kind.RECEIVER_MOBILE: ["x" * 65],
}
TEXTS = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
ODD: st.SearchStrategy[Any] = st.one_of(
    TEXTS,
    st.builds(lambda a, c, b: a + c + b, TEXTS, st.sampled_from(UNSTORABLE + ESCAPES), TEXTS),
    st.sampled_from(FORMULAS),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.from_regex(r"\A\d{1,40}(\.\d{1,5})?\Z"),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31)),
    st.sampled_from(["", " ", "中" * 70, "x" * 2000, "'=1+1", "1.23E+17"]),
)


def odd(column: Column | None) -> st.SearchStrategy[Any]:
    if column is None:
        return ODD
    return st.one_of(st.sampled_from(EDGE[column.kind]), ODD)


def valid(column: Column | None) -> st.SearchStrategy[Any]:
    return ODD if column is None else VALID[column.kind]


@st.composite
def rows_of(draw: st.DrawFn, columns: list[Column | None]) -> tuple[Any, ...]:
    """A row of valid cells but for at most two odd ones (none in half the rows)."""
    odd_at = set(draw(st.lists(st.integers(0, len(columns) - 1), max_size=2))) if draw(st.booleans()) else set()
    return tuple(draw(odd(c) if i in odd_at else valid(c)) for i, c in enumerate(columns))


# --- files --------------------------------------------------------------------------------------------------


@st.composite
def headers(draw: st.DrawFn) -> list[tuple[str, Column | None]]:
    likely = ("store_no", "buyer_mobile")  # without a store and a buyer column every row is invalid
    columns = [c for c in COLUMNS if c.required or draw(st.integers(0, 9) if c.key in likely else st.integers(0, 1))]
    if draw(st.integers(0, 9)) == 0:  # sometimes a required column is missing: a 4xx for the whole file
        columns.remove(draw(st.sampled_from([c for c in columns if c.required])))
    named = [(draw(st.sampled_from([c.header, c.chinese, c.key, c.english.upper()])), c) for c in columns]
    unknown = st.sampled_from(["Note", "渠道", "Result", "Note", "渠道", "x\x07"])
    named += [(name, None) for name in draw(st.lists(unknown, max_size=2))]
    return draw(st.permutations(named))


@st.composite
def uploads(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str]]:
    header = draw(headers())
    rows = draw(st.lists(rows_of([column for _, column in header]), min_size=1, max_size=20))
    if draw(st.integers(0, 14)) == 0:  # a header without data rows
        rows = []
    if draw(st.integers(0, 7)) == 0 and rows:  # an order of many lines (past the per-order bound, sometimes)
        rows += [rows[0]] * draw(st.sampled_from([10, 499, 501]))
    kind = draw(st.sampled_from(["xlsx", "xlsx", "utf-8", "utf-8-sig", "utf-16", "gb18030", "tsv"]))
    form = {"timezone": draw(st.sampled_from(["Asia/Shanghai", "America/New_York", "UTC", "Pacific/Kiritimati"]))}
    if draw(st.integers(0, 4)) == 0:
        form["mode"] = "strict"
    names = [name for name, _ in header]
    if kind == "xlsx":
        return "fuzz.xlsx", workbook(names, rows), form
    return f"fuzz.{'tsv' if kind == 'tsv' else 'csv'}", text_file(names, rows, kind), form


def _escaped(value: Any) -> Any:
    """What a workbook can hold: control characters as the `_xHHHH_` escapes Excel writes."""
    if not isinstance(value, str):
        return value
    return "".join(f"_x{ord(ch):04X}_" if _needs_escape(ch) else ch for ch in value)


def _needs_escape(ch: str) -> bool:
    return ch in UNSTORABLE or (ord(ch) < 32 and ch not in "\t\n\r")


def workbook(header: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append([_escaped(name) for name in header])
    for row in rows:
        sheet.append([_escaped(value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def text_file(header: list[str], rows: list[tuple[Any, ...]], kind: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t" if kind == "tsv" else ",")
    writer.writerow(header)
    writer.writerows([["" if v is None else str(v) for v in row] for row in rows])
    return buffer.getvalue().encode("utf-8" if kind == "tsv" else kind)


# --- the property ---------------------------------------------------------------------------------------------


async def _check(api: Api, name: str, content: bytes, form: dict[str, str]) -> str:
    """Post the file as a dry run and for real; returns what happened ("202", or the 4xx status and code)."""
    dry = await upload(api, name, content, dry_run="true", **form)
    real = await upload(api, name, content, **form)
    where = f"(fuzz seed {SEED}) {name} {form}"
    assert dry.status_code < 500 and real.status_code < 500, (where, dry.text, real.text)
    assert dry.status_code == real.status_code, (where, dry.text, real.text)
    if real.status_code != 202:
        assert dry.json()["code"] == real.json()["code"], where
        return f"{real.status_code} {real.json()['code']}"
    plan, receipt = dry.json(), real.json()
    assert {k: plan[k] for k in COMPARED} == {k: receipt[k] for k in COMPARED}, where
    assert len(plan["orders"]) == receipt["orders"], where
    for url in (receipt["status_url"], receipt["result_url"]):
        answer = await api.client.get(url, headers=api.headers())
        assert answer.status_code == 200, (where, url, answer.text)
    return "202 with orders" if receipt["orders"] else "202 without orders"


async def test_generated_uploads_never_answer_500_and_the_dry_run_agrees(api: Api) -> None:
    print(f"fuzz seed {SEED} ({EXAMPLES} examples); replay with ORDERINFO_FUZZ_SEED={SEED}")
    loop = asyncio.get_running_loop()
    outcomes: Counter[str] = Counter()

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=DEADLINE,
        database=None,
        phases=(Phase.generate, Phase.target, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(uploads())
    def property_(example: tuple[str, bytes, dict[str, str]]) -> None:
        name, content, form = example
        outcome = asyncio.run_coroutine_threadsafe(_check(api, name, content, form), loop).result(timeout=120)
        outcomes[outcome] += 1

    await asyncio.to_thread(property_)
    print(f"fuzz outcomes: {dict(outcomes.most_common())}")


async def test_a_fuzz_example_that_is_known_to_be_valid_is_imported(api: Api) -> None:
    """The generator's valid cells do make importable files (so the property above exercises real imports)."""
    header = [c.header for c in COLUMNS if c.required] + ["Store No.", "Buyer Mobile"]
    row = ("A1", "Youzan", "Paid", "2022-09-14 11:03:23", "P1", "1", "10.50", "S1", "13912345678")
    for kind in ("xlsx", "utf-16", "gb18030"):
        content = workbook(header, [row]) if kind == "xlsx" else text_file(header, [row], kind)
        answer: httpx.Response = await upload(api, f"ok.{'xlsx' if kind == 'xlsx' else 'csv'}", content)
        assert answer.status_code == 202 and answer.json()["orders"] == 1, answer.text
