"""What Order Info can store, on every path: the import template, the `orders.ingest.v1` contract and the events.

One place for the storage bounds, so that whatever is accepted up front is storable later (never a
`processing_error` for a value problem). Pure: no IO.

- Times: order and payment times lie in [`MIN_TIME`, `MAX_TIME`) as instants, whatever the zone they were written
  in (so year 0001 east of UTC or 9999-12-31 west of it are refused up front, not by PostgreSQL later).
- Money: every stored amount, given or computed (a line's quantity x unit price, an order's sum of lines), is at
  most `MAX_MONEY` (`numeric(14, 2)`); customers' aggregates are stored in wider columns.
- Text: no U+0000 (PostgreSQL text cannot hold it), no lone surrogate (not encodable as UTF-8), no character
  XML 1.0 forbids (C0 controls other than tab, LF and CR; U+FFFE, U+FFFF), so any stored value can be written back
  into a result workbook. Such text is refused, never silently cleaned, on every path.
- Order numbers: `.` and `..` are refused: HTTP clients remove such path segments, so no URL could read the order
  back (any other accepted order no. reads back through `GET /v1/orders/{order_no}`, percent-encoded).
- Identifiers (order no., store no. and ID, product ID, SKU, the buyer's Sobot ID and unionid): no invisible
  formatting character (zero-width spaces and joiners, direction marks and embeddings, the BOM, the soft hyphen),
  which a copy from a web page or a chat carries along: `A001` and `A001` with a zero-width space look alike on
  every screen but would be two orders, two products, two stores. Refused with the character and its position, on
  every path; texts (names, addresses, remarks) keep them.
- Size: an order holds at most `MAX_LINES_PER_ORDER` lines after merging; a message or event is at most
  `MAX_MESSAGE_BYTES` (the producers' `max_request_size`, the topics' `max.message.bytes` and the broker agree).
  With the field lengths of the contract, `MAX_LINES_PER_ORDER` lines always fit in `MAX_MESSAGE_BYTES`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

MIN_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2100, 1, 1, tzinfo=UTC)
TIME_RANGE_TEXT = "between 2000-01-01 and 2099-12-31"

MAX_MONEY = Decimal("999999999999.99")  # numeric(14, 2)
MAX_QUANTITY = 1_000_000
MAX_LINES_PER_ORDER = 500
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

# C0 controls but tab, LF, CR; lone surrogates; the two non-characters XML 1.0 forbids.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# Unicode's invisible format characters (category Cf) a copy brings into an identifier: the soft hyphen, the Arabic
# letter mark, the Mongolian vowel separator, zero-width space, non-joiner and joiner, the direction marks,
# embeddings, overrides and isolates, the word joiner and invisible operators, the BOM (zero-width no-break space),
# the interlinear annotation marks.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


def invisible_char(text: str) -> str | None:
    """The first invisible formatting character of `text` (see the module: refused in identifiers), or None."""
    if text.isascii():
        return None
    match = _INVISIBLE.search(text)
    return None if match is None else match.group()


def without_invisible(text: str) -> str:
    """`text` without its invisible formatting characters (for metadata such as a file name, cleaned not refused)."""
    return text if text.isascii() else _INVISIBLE.sub("", text)


def identifier_problem(text: str) -> str | None:
    """Why `text` cannot be an identifier (an invisible character, named with its position), or None."""
    char = invisible_char(text)
    if char is None:
        return None
    position = text.index(char) + 1
    return (
        f"contains the invisible character {describe_char(char)} at position {position} (copied along from a web page "
        "or a chat?): an identifier that looks the same without it would be another one"
    )


def unstorable_char(text: str) -> str | None:
    """The first character of `text` that cannot be stored or written to a workbook, or None."""
    match = _UNSTORABLE.search(text)
    return None if match is None else match.group()


def storable_text(value: object) -> str | None:
    """`value` when it is text that can be stored (and echoed back in a UTF-8 answer), else None: for what a
    rejected message claims to be (its order no.), which is reported and counted by but never trusted."""
    return value if isinstance(value, str) and unstorable_char(value) is None else None


def describe_char(char: str) -> str:
    """`U+0007` for the message that refuses it."""
    return f"U+{ord(char):04X}"


def unstorable_text_problem(text: str) -> str | None:
    """A message fit for an end user when `text` holds an unstorable character, else None."""
    char = unstorable_char(text)
    if char is None:
        return None
    position = text.index(char) + 1
    return f"contains the control or invalid character {describe_char(char)} at position {position}"


DOT_SEGMENTS = frozenset({".", ".."})
DOT_SEGMENT_PROBLEM = "is '.' or '..', which no web address can name (clients drop such path segments)"


def order_no_problem(order_no: str) -> str | None:
    """Why an order no. cannot be stored and read back, or None."""
    return DOT_SEGMENT_PROBLEM if order_no in DOT_SEGMENTS else None


def time_in_range(value: datetime) -> bool:
    """An aware instant Order Info stores: within [MIN_TIME, MAX_TIME)."""
    return MIN_TIME <= value < MAX_TIME


def money_in_range(value: Decimal) -> bool:
    return Decimal(0) <= value <= MAX_MONEY
