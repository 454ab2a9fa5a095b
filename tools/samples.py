"""Realistic, valid sample order files (demo file, benchmarks, integration tests). Deterministic for a seed.

Rows follow `domain.spreadsheet.template.COLUMNS` plus one extra column (`EXTRA_HEADER`), as platform exports usually
carry columns the template does not know. Every generated row is valid; times are naive wall-clock times.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

from services.ingest.domain.spreadsheet.template import COLUMNS, SOURCE_ALIASES, SOURCE_LABELS, STATUS_LABELS

EXTRA_HEADER = "Channel Note"
SAMPLE_HEADER: tuple[str, ...] = (*(column.header for column in COLUMNS), EXTRA_HEADER)
SampleValue = str | int | float | datetime | None
SampleRow = tuple[SampleValue, ...]

_PRODUCTS = ("T-shirt", "Mug", "Notebook", "Tea 250g", "Phone case", "Socks", "Scarf", "Lamp")
_CITIES = ("Shanghai", "Beijing", "Hangzhou", "Shenzhen", "Chengdu")


def _source(rng: random.Random) -> str:
    source = rng.choice(list(SOURCE_LABELS))
    # The English and the Chinese label only: the platforms' other names are newer than some readers of samples
    # (the differential parse test's reference implementation).
    return rng.choice((SOURCE_LABELS[source], SOURCE_ALIASES[source][0]))


def _order_rows(rng: random.Random, number: int, lines: int) -> list[SampleRow]:
    ordered = datetime(2022, 1, 1) + timedelta(seconds=rng.randrange(365 * 24 * 3600))
    status = rng.choice(list(STATUS_LABELS.values()))
    paid = None if status == "To Be Paid" else ordered + timedelta(seconds=rng.randrange(30, 3600))
    prices = [Decimal(rng.randrange(100, 100_000)) / 100 for _ in range(lines)]
    quantities = [rng.randint(1, 5) for _ in range(lines)]
    total = sum((p * q for p, q in zip(prices, quantities, strict=True)), Decimal(0))
    mobile = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
    order = (f"E{ordered:%Y%m%d}{number:06d}", _source(rng), status, ordered, paid, f"S{rng.randrange(20):03d}", "")
    buyer = ("", mobile, f"oUnion{rng.randrange(10**8):08d}", f"buyer{number}")
    receiver = (f"Receiver {number}", mobile, f"{rng.randrange(1, 999)} Nanjing Rd, {rng.choice(_CITIES)}")
    rows: list[SampleRow] = []
    for index, (price, quantity) in enumerate(zip(prices, quantities, strict=True)):
        product = rng.randrange(10_000)
        line = (f"P{product:05d}", f"P{product:05d}-{index}", rng.choice(_PRODUCTS), quantity, float(price))
        amounts = (float(price * quantity), float(total), float(total))
        rows.append((*order, "Flagship", *line, *amounts, *buyer, *receiver, "", "imported"))
    return rows


def sample_rows(n_orders: int, lines_per_order: int, seed: int = 0) -> Iterator[SampleRow]:
    """`n_orders` valid orders of `lines_per_order` lines each, as rows aligned with `SAMPLE_HEADER`."""
    rng = random.Random(seed)
    for number in range(n_orders):
        yield from _order_rows(rng, number, lines_per_order)


def _text(value: SampleValue) -> str:
    if value is None:
        return ""
    return f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, datetime) else str(value)


def write_sample_xlsx(path: Path, rows: Iterable[SampleRow]) -> None:
    """An .xlsx with numbers as number cells and times as date-time cells (as platform exports write them)."""
    book = Workbook()  # not write-only: that mode writes inline strings, Excel writes shared strings
    sheet = book.active
    sheet.title = "Orders"
    sheet.append(list(SAMPLE_HEADER))
    for row in rows:
        sheet.append([None if value == "" else value for value in row])
    book.save(path)


def write_sample_csv(path: Path, rows: Iterable[SampleRow], encoding: str = "utf-8-sig") -> None:
    """A CSV as Excel writes it ("CSV UTF-8" by default; pass gb18030 for the Chinese-locale flavour)."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(SAMPLE_HEADER)
        writer.writerows([_text(value) for value in row] for row in rows)
