"""A pushed batch (`POST /v1/orders:batch`) before validation: its orders cut out of the body exactly as sent.

Pure: no IO, no clock. The body is `{"orders": [order, ...]}`, each order the `orders.ingest.v1` contract without
`tenant_id` (the API key's tenant; an order naming another one refuses the whole request), `import_id` (pushed
orders belong to no upload) and `producer` (the key's name). Each order's own bytes are kept as sent, so the
consumer's validation of the message reads exactly what the client wrote: numbers keep their text, nothing is
converted on the way. Whole-request problems raise `PushBodyError`; an order's own problems are answers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from services.core import bounds
from services.ingest.domain.text_encoding import encoding_problem, foreign_encoding

MAX_ORDERS = 1000
# A pushed order is charged to the tenant's rate limit once per this many lines (begun): about what the consumer
# spends on a line beside an order (on the stack: 0.42 ms an order of one line at 2,375 orders/s, and 1,000 orders
# of 500 lines kept it 57 s, 0.11 ms a line), so that orders of 500 lines cannot buy the consumer's time at the
# price of orders of one line.
LINES_PER_CHARGE = 4
_INT_DIGITS = 4300  # Python's default bound on an integer's digits (`sys.get_int_max_str_digits`)


class LongInteger(str):
    """A JSON integer of more digits than Python converts: kept as its text, so that only its order is refused (by
    the consumer's validation, as invalid JSON) where it refused the whole push."""


def _integer(text: str) -> int | LongInteger:
    return LongInteger(text) if len(text.lstrip("-")) > _INT_DIGITS else int(text)


_DECODER = json.JSONDecoder()
_LONG_INTEGERS = json.JSONDecoder(parse_int=_integer)  # a Python call per integer: only when `_DECODER` fails


class TooDeep:
    """An order nested deeper than Python's JSON reader goes (about 1,000 levels): cut out by its brackets, so
    that only it is refused (the consumer refuses past 200 levels) where it refused the whole push."""


TOO_DEEP = TooDeep()
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def _end_of_nested(text: str, start: int) -> int | None:
    """Where the array or object opening at `start` closes (just after it), strings skipped; None if never."""
    depth = 0
    for token in _STRING_OR_BRACKET.finditer(text, start):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
        elif bracket in ("]", "}"):
            depth -= 1
            if depth == 0:
                return token.end()
    return None


_WHITESPACE = " \t\n\r"


class PushBodyError(ValueError):
    """The request as a whole cannot be read or is refused; `code` names why, the message says where and what."""

    def __init__(self, code: str, message: str, indexes: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.code, self.message, self.indexes = code, message, indexes


@dataclass(frozen=True, slots=True)
class RawOrder:
    """One order of the body: its position, its JSON text as sent and what it parsed to."""

    index: int
    text: str
    value: Any


def split_orders(body: bytes, max_orders: int = MAX_ORDERS) -> list[RawOrder]:
    """The orders of `{"orders": [...]}`, each with its exact text; `PushBodyError` for a body that is not that
    (not UTF-8, not JSON, another shape, no order, more than `max_orders`)."""
    encoding = foreign_encoding(body)
    if encoding is not None:
        raise PushBodyError("invalid_encoding", encoding_problem("the body", encoding))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise PushBodyError("invalid_encoding", f"the body is not UTF-8 text (byte {bad.start + 1})") from None
    cursor = _Cursor(text)
    cursor.expect("{")
    if cursor.value('the key "orders"') != "orders":
        raise PushBodyError("invalid_body", 'the body must be {"orders": [...]}, with no other member')
    cursor.expect(":")
    cursor.expect("[")
    orders: list[RawOrder] = []
    if not cursor.take("]"):
        while True:
            if len(orders) == max_orders:
                raise PushBodyError(
                    "too_many_orders", f"a push takes at most {max_orders:,} orders; send the rest in another request"
                )
            cursor.skip()
            start = cursor.at
            value = cursor.value(f"order {len(orders)}")
            orders.append(RawOrder(len(orders), text[start : cursor.at], value))
            if cursor.take("]"):
                break
            cursor.expect(",")
    cursor.expect("}")
    cursor.end()
    if not orders:
        raise PushBodyError("no_orders", "orders: at least one order is needed")
    return orders


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text, self.at = text, 0

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in _WHITESPACE:
            self.at += 1

    def take(self, char: str) -> bool:
        self.skip()
        if self.text.startswith(char, self.at):
            self.at += 1
            return True
        return False

    def expect(self, char: str) -> None:
        if not self.take(char):
            found = self.text[self.at : self.at + 20] or "the end of the body"
            raise PushBodyError(
                "invalid_json",
                f'expected {char!r} at character {self.at + 1}, found {found!r} (the body is {{"orders": [...]}})',
            )

    def value(self, what: str) -> Any:
        self.skip()
        for decoder in (_DECODER, _LONG_INTEGERS):
            try:
                value, self.at = decoder.raw_decode(self.text, self.at)
                return value
            except json.JSONDecodeError as exc:
                problem = f"{what}: not JSON ({exc.msg} at character {exc.pos + 1})"
                raise PushBodyError("invalid_json", problem) from None
            except ValueError:  # an integer of thousands of digits: read again, keeping it as text
                continue
            except RecursionError:  # nesting a thousand deep
                break
        end = _end_of_nested(self.text, self.at) if self.text[self.at : self.at + 1] in ("[", "{") else None
        if end is None:
            raise PushBodyError("invalid_json", f"{what}: JSON nested too deeply, never closed") from None
        self.at = end
        return TOO_DEEP

    def end(self) -> None:
        self.skip()
        if self.at != len(self.text):
            raise PushBodyError("invalid_json", f"unexpected text after the body at character {self.at + 1}")


def charge(orders: list[RawOrder]) -> int:
    """What a push costs the tenant's rate limit, in orders: each order at least one, one more per
    `LINES_PER_CHARGE` lines (begun) past the first `LINES_PER_CHARGE` (an order that is no object counts once).
    Lines past `MAX_LINES_PER_ORDER` are not charged: such an order is rejected, costing the consumer nothing, so a
    push costs at most `MAX_ORDERS` orders of that many lines (125,000 orders' worth), whatever its size."""
    total = 0
    for order in orders:
        lines = order.value.get("lines") if isinstance(order.value, dict) else None
        count = min(len(lines), bounds.MAX_LINES_PER_ORDER) if isinstance(lines, list) else 0
        total += max(1, -(-count // LINES_PER_CHARGE))
    return total


def foreign_orders(orders: list[RawOrder], tenant_id: UUID) -> tuple[int, ...]:
    """Indexes of the orders whose `tenant_id` is given and is not `tenant_id` (then the whole push is refused).
    A `null` names no tenant: it is left out, as a null `import_id` or `producer` is (it was a 403 for them all).
    An empty (or blank) `tenant_id` is among them: `empty_tenant_ids` tells it apart, to word it as such."""
    return tuple(
        o.index
        for o in orders
        if isinstance(o.value, dict)
        and o.value.get("tenant_id") is not None
        and not _same_uuid(o.value["tenant_id"], tenant_id)
    )


def empty_tenant_ids(orders: list[RawOrder], indexes: tuple[int, ...]) -> tuple[int, ...]:
    """Of the refused `indexes`, the orders whose `tenant_id` is an empty or blank text: no tenant named at all
    (it was refused as naming "another tenant")."""
    refused = set(indexes)
    return tuple(
        o.index for o in orders if o.index in refused and isinstance(o.value, dict) and _blank(o.value.get("tenant_id"))
    )


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def _same_uuid(value: Any, expected: UUID) -> bool:
    try:
        return isinstance(value, str) and UUID(value) == expected
    except ValueError:
        return False


def message_text(order: RawOrder, tenant_id: UUID, producer: str) -> str:
    """The order's `orders.ingest.v1` message: its own text with the tenant and the producer set last (a JSON
    object's last member of a name is the one read, so a `producer` the client sent is replaced)."""
    claims = f'"tenant_id":"{tenant_id}","producer":{json.dumps(producer, ensure_ascii=False)}'
    if not order.value:
        return "{" + claims + "}"
    return f"{order.text[:-1]},{claims}}}"
