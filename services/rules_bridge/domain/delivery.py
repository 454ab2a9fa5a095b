"""What became of each outbox row the relay tried to publish, and which rows are never worth a broker round trip.

Pure. A permanent failure is a property of the event (its size, its topic), never of the relay: such a row is
PARKED with a reason and the relay goes on with the others. A transient failure (broker unavailable, timeouts, an
error this module does not know) is the relay's: the row is RETRIED, in id order, by a later session.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    SENT = "sent"  # acknowledged by the broker: marked sent, never published again
    PARKED = "parked"  # can never be published: kept unsent with its reason, counted, skipped from now on
    RETRY = "retry"  # not acknowledged for a reason that may pass: published again by a later session


class ParkReason(StrEnum):
    TOO_LARGE = "too_large"  # over the message size bound (ours, the producer's or the topic's)
    INVALID_TOPIC = "invalid_topic"  # the broker refuses the topic's name
    UNKNOWN_TOPIC = "unknown_topic"  # a topic the relay does not provision: it would never be created
    REJECTED = "rejected"  # the broker refuses the record itself (corrupt, bad timestamp, unsupported format)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: ParkReason | None = None
    detail: str = ""  # for operators and logs: sizes, limits, the broker's error


SENT = Verdict(Outcome.SENT)


def parked(reason: ParkReason, detail: str) -> Verdict:
    return Verdict(Outcome.PARKED, reason, detail)


def retry(detail: str) -> Verdict:
    return Verdict(Outcome.RETRY, None, detail)


def before_sending(topic: str, size: int, known_topics: Collection[str], limit: int) -> Verdict | None:
    """The verdict on a row that must not be sent at all (`size`: its record's serialized size), else None."""
    if topic not in known_topics:
        return parked(ParkReason.UNKNOWN_TOPIC, f"topic {topic!r} is not one the relay publishes to")
    if size > limit:
        return parked(ParkReason.TOO_LARGE, f"the event is {size} bytes serialized, over the limit {limit} bytes")
    return None
