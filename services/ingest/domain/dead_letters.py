"""Dead letters as an operator sees them: which tenant, why, when; filters; what a replay re-publishes. Pure.

A dead letter is the rejected record's key and value on `orders.ingest.dlq.v1`, with the consumer's headers
(`DEAD_LETTER_HEADERS`) first and then the record's own headers (`letter_headers`), in their order, duplicates and
null values included. The dead-letter headers are the trustworthy ones: a record's header whose name is one of
them (in any case), or starts with `PRODUCER_PREFIX`, is kept under `PRODUCER_PREFIX` + its name (`x-reason-code`
sent by a producer is `x-producer-x-reason-code` in the letter), so no producer can forge a letter's reason or
origin, and a replay restores every name exactly. A letter never exceeds its byte bound because of the record's
headers: when they do not fit beside the value and the dead-letter headers, all of them are dropped (never some)
and `HEADERS_DROPPED` says why, how many and how large.

Its tenant is the one its key names (`"{tenant_id}:{order_no}"`, the key the consumer partitions and checks by);
a letter whose key names no tenant belongs to none, and only an operator's unfiltered CLI listing shows it.
A replay re-publishes the key, the value and every header but the dead-letter
ones (the kept ones under their own names again), so the consumer sees the record as it was first sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from uuid import UUID

Headers = tuple[tuple[str, bytes | None], ...]  # a Kafka header's value may be null

# What the consumer adds (see `entrypoints.consumer.dead_letter_headers`); a replay drops them.
REASON_CODE = "x-reason-code"
HEADERS_DROPPED = "x-original-headers-dropped"  # why the record's own headers are not in the letter
DEAD_LETTER_HEADERS = frozenset(
    {
        REASON_CODE,
        "x-reason",
        "x-original-topic",
        "x-original-partition",
        "x-original-offset",
        "x-exception",
        HEADERS_DROPPED,
    }
)
PRODUCER_PREFIX = "x-producer-"  # a record's header that would pass for a dead-letter one is kept under it
UNKNOWN_REASON = "unknown"
# Above key, value and headers: the record batch's header (61 bytes) and one record's framing (21), with room
RECORD_OVERHEAD_BYTES = 1024
_HEADER_FRAMING_BYTES = 10  # the two varint lengths of one header, at most
_NOTE_BYTES = 256  # room kept for the `HEADERS_DROPPED` note itself


class HeadersDropped(StrEnum):
    """Why a letter does not carry its record's headers (the `HEADERS_DROPPED` note starts with it)."""

    TOO_LARGE = "too_large"  # beside the value and the dead-letter headers they would pass the letter's bound
    ERASED_CUSTOMER = "erased_customer"  # the letter keeps nothing of an erased customer's record but its key


def kept_name(name: str) -> str:
    """The name a record's header has in its letter: its own, or under `PRODUCER_PREFIX` when it would pass for a
    dead-letter header or for a kept one (so that `restored_name` undoes it exactly)."""
    low = name.lower()
    return PRODUCER_PREFIX + name if low in DEAD_LETTER_HEADERS or low.startswith(PRODUCER_PREFIX) else name


def restored_name(name: str) -> str:
    """The record's own name of a header kept in a letter (`kept_name` undone)."""
    return name[len(PRODUCER_PREFIX) :] if name.startswith(PRODUCER_PREFIX) else name


def headers_bytes(headers: Headers) -> int:
    """What `headers` add to a record, at most (names, values and their lengths)."""
    return 5 + sum(len(k.encode("utf-8")) + len(v or b"") + _HEADER_FRAMING_BYTES for k, v in headers)


def letter_headers(
    own: Headers, original: Headers, key: bytes | None, value: bytes | None, limit: int, *, erased: bool = False
) -> Headers:
    """A letter's headers: the dead-letter ones (`own`), then the record's (`original`, under `kept_name`), unless
    the letter would then pass `limit` bytes (or the customer is `erased`): then none of the record's, and a
    `HEADERS_DROPPED` note instead."""
    if not original:
        return own
    kept = tuple((kept_name(k), v) for k, v in original)
    room = limit - RECORD_OVERHEAD_BYTES - _NOTE_BYTES - len(key or b"") - len(value or b"") - headers_bytes(own)
    why = HeadersDropped.ERASED_CUSTOMER if erased else None
    if why is None and headers_bytes(kept) > room:
        why = HeadersDropped.TOO_LARGE
    if why is None:
        return own + kept
    note = f"{why}: {len(original)} headers of {headers_bytes(original)} bytes"
    return (*own, (HEADERS_DROPPED, note.encode()))


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic, where it sits (`partition`, `offset`) and when it was written."""

    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes | None
    headers: Headers

    def header(self, name: str) -> str | None:
        """The first header of that name, as text (None: none, or a null value)."""
        found = next((v for k, v in self.headers if k == name), None)
        return None if found is None else found.decode("utf-8", "replace")

    @property
    def reason(self) -> str:
        return self.header(REASON_CODE) or UNKNOWN_REASON

    @property
    def tenant_id(self) -> UUID | None:
        return tenant_of_key(self.key)

    def replay_headers(self) -> Headers:
        """The headers to re-publish: the record's own, as it was sent (the letter's without the dead-letter ones,
        under their own names again)."""
        return tuple((restored_name(k), v) for k, v in self.headers if k not in DEAD_LETTER_HEADERS)


@dataclass(frozen=True)
class LetterFilter:
    """Which letters: every criterion given must hold; `until` is exclusive."""

    reason: str | None = None
    tenant_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (self.reason is None or letter.reason == self.reason)
            and (self.tenant_id is None or letter.tenant_id == self.tenant_id)
            and (self.since is None or letter.timestamp >= self.since)
            and (self.until is None or letter.timestamp < self.until)
        )


def tenant_of_key(key: bytes | None) -> UUID | None:
    """The tenant a record key `"{tenant_id}:{order_no}"` names; None when it names none."""
    if not key:
        return None
    head = key.split(b":", 1)[0]
    try:
        return UUID(head.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def order_no_of_key(key: bytes | None) -> str | None:
    if not key or b":" not in key:
        return None
    return key.split(b":", 1)[1].decode("utf-8", "replace").strip() or None


def select(letters: Iterable[DeadLetter], where: LetterFilter) -> list[DeadLetter]:
    return [letter for letter in letters if where.matches(letter)]


def counts_by_reason(letters: Sequence[DeadLetter]) -> dict[str, int]:
    """Reason code -> letters, most frequent first (ties by code)."""
    counts = Counter(letter.reason for letter in letters)
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def by_day(letters: Sequence[DeadLetter], days: Sequence[date], zone: tzinfo) -> dict[str, list[int]]:
    """Reason -> letters per day of `days` (in `zone`), most frequent reason first; letters on other days ignored."""
    index = {day: i for i, day in enumerate(days)}
    series: dict[str, list[int]] = {}
    for letter in letters:
        i = index.get(letter.timestamp.astimezone(zone).date())
        if i is not None:
            series.setdefault(letter.reason, [0] * len(days))[i] += 1
    return dict(sorted(series.items(), key=lambda item: (-sum(item[1]), item[0])))
