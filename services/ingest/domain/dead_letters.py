"""Dead letters as an operator sees them: which tenant, why, when; filters; what a replay re-publishes. Pure.

A dead letter is the rejected record's key and value on `orders.ingest.dlq.v1`, with the consumer's headers
(`DEAD_LETTER_HEADERS`). Its tenant is the one its key names (`"{tenant_id}:{order_no}"`, the key the consumer
partitions and checks by); a letter whose key names no tenant belongs to none, and only an operator's
unfiltered CLI listing shows it. A replay re-publishes the key, the value and every header but the dead-letter
ones, so the consumer sees the record as it was first sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from uuid import UUID

Headers = tuple[tuple[str, bytes], ...]

# What the consumer adds (see `entrypoints.consumer.dead_letter_headers`); a replay drops them.
REASON_CODE = "x-reason-code"
DEAD_LETTER_HEADERS = frozenset(
    {REASON_CODE, "x-reason", "x-original-topic", "x-original-partition", "x-original-offset", "x-exception"}
)
UNKNOWN_REASON = "unknown"


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
        found = next((v for k, v in self.headers if k == name), None)
        return None if found is None else found.decode("utf-8", "replace")

    @property
    def reason(self) -> str:
        return self.header(REASON_CODE) or UNKNOWN_REASON

    @property
    def tenant_id(self) -> UUID | None:
        return tenant_of_key(self.key)

    def replay_headers(self) -> Headers:
        """The headers to re-publish: the letter's, without the dead-letter ones."""
        return tuple((k, v) for k, v in self.headers if k not in DEAD_LETTER_HEADERS)


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
