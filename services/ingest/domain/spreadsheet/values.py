"""Cell rules: the text of one cell in, a typed value or an `Invalid` out. Pure and exception-free.

Every cell is first turned into the text the user sees (`display_text`), so spreadsheets and CSV files follow the
same rules and the result workbook can show the cell back unchanged.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation

from services.core import bounds
from services.core.bounds import MAX_MONEY, MAX_QUANTITY
from services.core.order import OrderSource, OrderStatus
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.platform_statuses import EXAMPLE_PHRASES
from services.ingest.domain.spreadsheet.template import (
    SOURCE_INDEX,
    SOURCE_LABELS,
    STATUS_INDEX,
    STATUS_LABELS,
    label_key,
    status_key,
)

CENT = Decimal("0.01")
# Extra decimals count as floating-point noise (rounded) when this close to a whole cent: absolute 1e-9, or
# 1e-14 of the value for large amounts. 1.234 or 1000000.001 is a typed value and is rejected; a relative 1e-6
# would have silently rounded the latter.
NOISE_ABSOLUTE = Decimal("1e-9")
NOISE_RELATIVE = Decimal("1e-14")
# A number cell holds a binary float: integers are exact up to 15 digits (Excel keeps 15 significant digits);
# beyond, or with decimals, an identifier typed as a number has lost (or never had) its digits.
MAX_EXACT_ID_NUMBER = 10**15
DEFAULT_PLACEHOLDER_MOBILES = frozenset({"13800000000", "12345678901"})
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_NUMBER = re.compile(r"([-+]?)\s*(?:[¥￥$]|RMB|CNY)?\s*([-+]?)(\d{1,3}(?:,\d{3})+|\d*)(\.\d+)?", re.IGNORECASE)
_QUOTED_NUMBER = re.compile(r"'\d[\d.,:/ -]*")  # '2045..., '13912345678, '2022-09-14 11:03:23
_PLAIN_MONEY = re.compile(r"\d{1,12}(?:\.\d{1,2})?")
_SCIENTIFIC = re.compile(r"[-+]?\d+(?:\.\d+)?[eE][-+]?\d+")
# The time formats accepted, and only these (no guessing): year first, then month and day.
# `YYYY-MM-DD HH:MM:SS` with - or /, month, day and hour of one or two digits, seconds optional, the time optional
# (00:00); ISO 8601 with a T, optional fraction and optional offset (Z, +08:00, +0800); `YYYY年M月D日 H:MM[:SS]`.
_LOCAL_TIME = re.compile(r"(\d{4})([-/])(\d{1,2})\2(\d{1,2})(?: +(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?")
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_CJK_TIME = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日(?: *(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?")
_MERIDIEM_FIRST = re.compile(r"(\S*[\d日]) *(上午|下午|AM|PM) *(\d{1,2})(:\d{2}(?::\d{2})?)", re.IGNORECASE)
_MERIDIEM_LAST = re.compile(r"(\S*\d) +(\d{1,2})(:\d{2}(?::\d{2})?) *(AM|PM)", re.IGNORECASE)
_YEAR_LAST = re.compile(r"\d{1,2}([-/.])\d{1,2}\1\d{4}(?:[ T].*)?")
TIME_FORMATS: tuple[str, ...] = (
    "2026-11-30 14:00:00 or 2026/11/30 14:00:00",
    "2026/11/30 14:00 (no seconds)",
    "2026-11-30 14:00:00.000 (fractions of a second)",
    "2026/11/30 下午 2:00 or 2026-11-30 2:00 PM (a 12-hour clock)",
    "2026/11/3 9:05:00 (one-digit month, day or hour)",
    "2026-11-30 (a date alone is 00:00)",
    "2026-11-30T14:00:00+08:00 (ISO 8601; its offset wins over the import's time zone, with a warning when "
    "they differ; without an offset it is read in the import's zone)",
    "2026年11月30日 14:00 (or with seconds, or the date alone)",
    "a date or date-time cell of Excel or WPS",
)
_MOBILE_NOISE = re.compile(r"[\s\-()（）\u3000]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_SOURCE_NAMES = ", ".join(SOURCE_LABELS.values())
_STATUS_EXPECTED = (
    f"one of {', '.join(STATUS_LABELS.values())}, or a platform's own status such as {' / '.join(EXAMPLE_PHRASES)}"
)

Cell = str | float | int | bool | datetime | date | time | timedelta | None


@dataclass(frozen=True, slots=True)
class Invalid:
    """Why a cell was refused: a stable code, what is wrong and what is expected (for the message)."""

    code: str
    problem: str
    expected: str


class Placeholder:
    """A placeholder mobile (all zeros, 13800000000, ...): treated as absent, with a warning."""


PLACEHOLDER = Placeholder()


class Masked:
    """A buyer mobile whose digits the platform's export hides (139****5678): no one's number, treated as absent
    with a warning."""


MASKED = Masked()
_MASKED_MOBILE = re.compile(r"[1*][\d*]{6,10}")


def is_masked_mobile(text: str) -> bool:
    """Whether a mobile cell is a number with digits masked by `*` (after spaces, dashes and +86 are dropped)."""
    mobile = normalise_mobile(text)
    return "*" in mobile and _MASKED_MOBILE.fullmatch(mobile) is not None


_SMALLEST_NORMAL = sys.float_info.min


def display_text(cell: Cell) -> str:
    """The cell as the user sees it: numbers without float noise (12345.0 -> "12345", 0.1 + 0.2 -> "0.3"),
    date-times as "YYYY-MM-DD HH:MM:SS", blanks as ""."""
    if type(cell) is str:
        return cell
    if type(cell) is float:  # the most common non-text cell: keep this path short
        return float_text(cell)
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ", timespec="seconds")
    if isinstance(cell, date | time):
        return cell.isoformat()
    return str(cell)


def float_text(cell: float) -> str:
    """A number cell as the user sees it (`display_text` of a float)."""
    if cell.is_integer():
        return str(int(cell))
    # The shortest text that reads back as the float, when it has at most 15 significant digits (16 characters
    # hold at most 15 digits besides the point), is exactly what ".15g" writes, at half the cost (tested). Not
    # for a subnormal float: it has fewer than 53 bits, so fewer digits read back (5e-324 is 4.94065645841247e-324).
    shortest = repr(cell)
    if len(shortest) <= 16 and not -_SMALLEST_NORMAL < cell < _SMALLEST_NORMAL:
        return shortest
    return format(cell, ".15g")


# Full-width forms (U+FF01-U+FF5E: what a Chinese input method types, "１２．５", "10：00") as their ASCII
# characters: what NFKC does to them, and only to them (NFKC also makes "①" a 1); the other spaces (ideographic,
# no-break, thin...) as a space and the minus sign U+2212 as "-".
_HALF_WIDTH = (
    {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
    | dict.fromkeys((0x3000, 0x00A0, 0x202F, 0x205F, *range(0x2000, 0x200B)), 0x20)
    | {0x2212: ord("-")}
)


def half_width(text: str) -> str:
    """`text` as the ASCII it stands for, for the cells of numbers, times and mobiles: full-width forms and other
    spaces folded, invisible formatting characters (a zero-width space or a direction mark copied along from a
    web page) dropped: in a number they carry nothing."""
    if text.isascii():
        return text
    return bounds.without_invisible(text.translate(_HALF_WIDTH)).strip()


def clean(text: str) -> str:
    """The cell text a rule looks at: stripped, without the `'` the result workbook adds before `=+-@` or an
    export before digits (Excel's text marker: `'2045123456789012345`), and the text of an Excel text formula
    (`="2045123456789012345"`, what back-offices write in a CSV so that Excel keeps every digit of an
    identifier) rather than the formula."""
    text = text.strip()
    if len(text) > 1 and text[0] == "'" and (text[1] in "=+-@" or _QUOTED_NUMBER.fullmatch(text)):
        text = text[1:]
    if len(text) > 2 and text.startswith('="') and text.endswith('"'):
        return text[2:-1].replace('""', '"').strip()
    return text


def check_length(text: str, max_length: int | None) -> Invalid | None:
    if max_length is not None and len(text) > max_length:
        return Invalid(issues.TOO_LONG, f"is {len(text)} characters long", f"at most {max_length} characters")
    return None


def parse_id(text: str, max_length: int | None) -> str | Invalid:
    """An identifier as text; scientific notation is refused because the digits it hides are lost."""
    if _SCIENTIFIC.fullmatch(text):
        return Invalid(
            issues.SCIENTIFIC_NOTATION,
            "is in scientific notation, so its digits are lost",
            "the full identifier (format the column as text before typing or pasting it)",
        )
    return check_length(text, max_length) or text


def invisible_in_id(text: str) -> Invalid | None:
    """An identifier holding an invisible formatting character (see `bounds`): refused, naming it."""
    char = bounds.invisible_char(text)
    if char is None:
        return None
    return Invalid(
        issues.INVISIBLE_CHARACTER,
        f"contains the invisible character {bounds.describe_char(char)} at position {text.index(char) + 1} (copied "
        "along from a web page or a chat?), so it would not match the same identifier typed without it",
        "the identifier without it (delete the character, or type the identifier again)",
    )


def parse_text(text: str, max_length: int | None) -> str | Invalid:
    return check_length(text, max_length) or text


def is_exact_id_number(cell: Cell) -> bool:
    """Whether a number cell's text is the identifier that was typed: an integer of at most 15 digits."""
    if type(cell) is float:
        return cell.is_integer() and -MAX_EXACT_ID_NUMBER < cell < MAX_EXACT_ID_NUMBER
    if type(cell) is int:
        return -MAX_EXACT_ID_NUMBER < cell < MAX_EXACT_ID_NUMBER
    return True


# What a cell shows for a formula that could not be computed; a CSV export (or a value pasted as text) keeps it.
ERROR_VALUES = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA", "#SPILL!", "#CALC!"}
)
ERROR_VALUE = Invalid(
    issues.ERROR_CELL,
    "is an error value of the spreadsheet (a formula could not be computed)",
    "the value itself (fix the formula, or paste the values only)",
)
INEXACT_ID = Invalid(
    issues.INEXACT_NUMBER,
    "is a number cell, and a number cell keeps an identifier exactly only as a whole number of at most 15 digits",
    "the identifier as text (format the column as text, then type or paste the identifiers again)",
)


def unstorable(text: str) -> Invalid | None:
    """Text Order Info cannot store or write back into a workbook (NUL, control characters, lone surrogates)."""
    problem = bounds.unstorable_text_problem(text)
    if problem is None:
        return None
    return Invalid(
        issues.INVALID_CHARACTER, problem, "text without control characters (delete them or retype the cell)"
    )


def visible(text: str) -> str:
    """`text` with every unstorable character replaced by U+FFFD, for showing a refused cell back to the user."""
    char = bounds.unstorable_char(text)
    while char is not None:
        text = text.replace(char, "\ufffd")
        char = bounds.unstorable_char(text)
    return text


def parse_source(text: str) -> OrderSource | Invalid:
    source = SOURCE_INDEX.get(label_key(text))
    if source is None:
        return Invalid(
            issues.INVALID_SOURCE,
            "is not a supported order source",
            f"one of {_SOURCE_NAMES} (other sources are not supported)",
        )
    return source


def parse_status(text: str) -> OrderStatus | Invalid:
    status = STATUS_INDEX.get(status_key(text))
    if status is None:
        return Invalid(issues.INVALID_STATUS, "is not a known order status", _STATUS_EXPECTED)
    return status


_TIME_EXPECTED = (
    "a date and time with the year first, like 2022-09-14 11:03:23, 2022/9/14 11:03, 2022-09-14, "
    "2022-09-14T11:03:23+08:00 or 2022年9月14日 11:03, or a date-time cell"
)
AMBIGUOUS_DATE = Invalid(
    issues.AMBIGUOUS_DATE,
    "puts the year last, so its day and month cannot be told apart (03/11 is 3 November or 11 March)",
    "the year first, like 2022-09-14 11:03:23",
)


def parse_time(text: str, zone: tzinfo) -> datetime | Invalid:
    """An aware instant: the wall-clock time in `zone` (the import's zone, never the server's), or at the
    offset the text gives (ISO 8601). Only the `TIME_FORMATS` are read."""
    parts = _time_parts(text)
    if parts is None:
        if _YEAR_LAST.fullmatch(text):
            return AMBIGUOUS_DATE
        return Invalid(issues.INVALID_TIME, "is not a date and time", _TIME_EXPECTED)
    (year, month, day, hour, minute, second, *micro), offset = parts
    try:
        at = zone if offset is None else _offset(offset)
        value = datetime(year, month, day, hour, minute, second, micro[0] if micro else 0, tzinfo=at)
    except ValueError:
        return Invalid(issues.INVALID_TIME, "is not a real date and time", _TIME_EXPECTED)
    return value if bounds.time_in_range(value) else OUT_OF_RANGE


def _time_parts(text: str) -> tuple[tuple[int, ...], str | None] | None:
    """(year, month, day, hour, minute, second, microsecond) and the offset text, or None: not a format read."""
    if not text.isascii() or "M" in text or "m" in text:
        text = _twenty_four_hour(text)
    match = _LOCAL_TIME.fullmatch(text)
    if match is not None:
        year, _, month, day, *clock, fraction = match.groups()
        micro = int(fraction.ljust(6, "0")) if fraction else 0
        return (*_numbers(year, month, day, *clock), micro), None
    match = _ISO_TIME.fullmatch(text)
    if match is not None:
        *fields, fraction, offset = match.groups()
        micro = int(fraction.ljust(6, "0")) if fraction else 0
        return (*_numbers(*fields), micro), offset
    match = _CJK_TIME.fullmatch(text)
    if match is not None:
        return _numbers(*match.groups()), None
    return None


def _twenty_four_hour(text: str) -> str:
    """A time of a 12-hour clock (`2022/9/14 下午 3:05`, `2022-09-14 3:05 PM`: what Windows writes into text
    with Chinese or English regional settings) on the 24-hour clock; any other text as it is (an hour outside
    1-12 with a meridiem stays unread)."""
    match = _MERIDIEM_FIRST.fullmatch(text)
    if match is not None:
        date_part, meridiem, hour, rest = match.groups()
    else:
        match = _MERIDIEM_LAST.fullmatch(text)
        if match is None:
            return text
        date_part, hour, rest, meridiem = match.groups()
    if not 1 <= int(hour) <= 12:
        return text
    afternoon = meridiem.upper() in ("下午", "PM")
    return f"{date_part} {int(hour) % 12 + (12 if afternoon else 0)}{rest}"


def _numbers(*fields: str | None) -> tuple[int, ...]:
    return tuple(int(field) if field else 0 for field in fields)


def _offset(text: str) -> tzinfo:
    if text.upper() == "Z":
        return UTC
    digits = text[1:].replace(":", "").ljust(4, "0")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:  # +08:60 is no offset (not +09:00), as it is none for RFC 3339 and the contract
        raise ValueError(text)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if text[0] == "-" else delta)


def offset_differs(value: datetime, zone: tzinfo) -> bool:
    """Whether an aware time read with its own offset is at another offset than `zone` has at that instant."""
    return value.tzinfo is not zone and value.utcoffset() != value.astimezone(zone).utcoffset()


OUT_OF_RANGE = Invalid(
    issues.TIME_OUT_OF_RANGE, "is outside the supported range", f"a time {bounds.TIME_RANGE_TEXT} in the import's zone"
)


def parse_decimal(text: str) -> Decimal | None:
    """A number written plainly or as `¥1,299.00` / `-1,000`; None when the text is not a number."""
    match = _NUMBER.fullmatch(text)
    if match is None or not (match[3] or match[4]):
        return None
    try:
        number = Decimal(match[3].replace(",", "") + (match[4] or ""))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        return None
    return -number if "-" in (match[1], match[2]) else number


def parse_money(text: str) -> Decimal | Invalid:
    """A non-negative amount with two decimal places; float noise within the tolerance is rounded to cents."""
    if _PLAIN_MONEY.fullmatch(text):
        return Decimal(text).quantize(CENT)
    number = parse_decimal(text)
    expected = "an amount >= 0 with at most 2 decimals, like 1299.00 or ¥1,299.00"
    if number is None:
        return Invalid(issues.INVALID_NUMBER, "is not a number", expected)
    if number < 0:
        return Invalid(issues.NEGATIVE_AMOUNT, "is negative", expected)
    if number >= MAX_MONEY + CENT:  # compared before any arithmetic: a 28-digit amount cannot be quantized
        return Invalid(issues.TOO_LARGE, "is too large", f"at most {MAX_MONEY:,}")
    cents = number.quantize(CENT)
    if abs(number - cents) > max(NOISE_ABSOLUTE, number * NOISE_RELATIVE):
        return Invalid(issues.TOO_MANY_DECIMALS, "has more than 2 decimals", expected)
    if cents > MAX_MONEY:
        return Invalid(issues.TOO_LARGE, "is too large", f"at most {MAX_MONEY:,}")
    return cents


def parse_quantity(text: str) -> int | Invalid:
    """A whole number from 1 to 1,000,000 ("3", "3.0" and a 3.0 number cell are all 3)."""
    if text.isdigit() and text.isascii():
        number = Decimal(text)
    else:
        parsed = parse_decimal(text)
        if parsed is None:
            return Invalid(issues.INVALID_NUMBER, "is not a number", "a whole number from 1 to 1,000,000")
        number = parsed
    if number != number.to_integral_value():
        return Invalid(issues.NOT_INTEGER, "is not a whole number", "a whole number from 1 to 1,000,000")
    if number <= 0:
        return Invalid(issues.NOT_POSITIVE, "is not positive", "a whole number from 1 to 1,000,000")
    if number > MAX_QUANTITY:
        return Invalid(issues.TOO_LARGE, "is too large", "a whole number from 1 to 1,000,000")
    return int(number)


def normalise_mobile(text: str) -> str:
    """Spaces, dashes and parentheses removed, then a +86 / 0086 / 86 country prefix."""
    digits = _MOBILE_NOISE.sub("", text)
    if digits.startswith("+86"):
        return digits[3:]
    if digits.startswith("0086"):
        return digits[4:]
    if digits.startswith("86") and len(digits) == 13:
        return digits[2:]
    return digits


def is_placeholder_mobile(mobile: str, placeholders: frozenset[str]) -> bool:
    return (mobile != "" and mobile.strip("0") == "") or mobile in placeholders


def parse_mobile(text: str, placeholders: frozenset[str]) -> str | Placeholder | Invalid:
    """A mainland mobile `1[3-9]` + 9 digits, normalised; placeholders are `PLACEHOLDER` (absent)."""
    mobile = normalise_mobile(text)
    if is_placeholder_mobile(mobile, placeholders):
        return PLACEHOLDER
    if _MOBILE.fullmatch(mobile) is None:
        return Invalid(issues.INVALID_MOBILE, "is not a valid mainland mobile number", "11 digits like 13912345678")
    return mobile
