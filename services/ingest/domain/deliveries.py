"""Which Kafka records an order has had applied already: a committed batch delivered again is applied once.

A batch can commit in PostgreSQL and still come back: its offset commit failed (the handler rewinds it), or the
process died between the two. A record whose bytes are the stored order's digest is recognised then (planning is
idempotent), but not an earlier record of the same order in that batch: planned in full over the state the later
ones left, it flipped the order back, and the later ones forward again (two versions and two events per record).

So the order row keeps, after the digest of the message that wrote it (`OrderRow.digest`, `DIGEST_BYTES`), the
deliveries applied to it last, oldest first (at most `WINDOW`, or every one of the last round when it applied more,
so that round delivered again is recognised whole): consecutive records of the order on one partition, in offset
order, the last of them the newest applied. A record among them (same topic, partition, offset and
bytes: `delivery`) is applied already, and so is everything before it; `plan_round` answers `unchanged` for it
without planning it, as long as no record of the order was planned in full before it in the round. A record
planned in full that does not follow the newest (an older one: the group was reset to an earlier offset; another
partition; a record of no log, as the push API's) starts the window again from itself (or empties it), so records
after it are planned in full again, as before this existed. A window lost (erasure clears the digest, a round
that wrote nothing) only costs that: full planning.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b

DIGEST_BYTES = 16  # the digest of the message that wrote the order
_STREAM, _OFFSET = 8, 8
_AT = _STREAM + _OFFSET
ENTRY_BYTES = _AT + DIGEST_BYTES  # one delivery: its topic and partition, offset, message digest
WINDOW = 32  # deliveries kept per order (32 x 32 bytes; more for one round only, when it planned more)


def delivery(topic: str, partition: int, offset: int, digest: bytes) -> bytes:
    """The name of one Kafka record: where it is in the log and what it holds (`digest`, `DIGEST_BYTES`)."""
    return _stream(topic, partition) + offset.to_bytes(_OFFSET, "big") + digest


@lru_cache(maxsize=256)
def _stream(topic: str, partition: int) -> bytes:
    return blake2b(f"{topic}\x1f{partition}".encode(), digest_size=_STREAM).digest()


def writer(stored: bytes | None) -> bytes | None:
    """The digest of the message that wrote the order, from a stored `OrderRow.digest`."""
    return stored[:DIGEST_BYTES] if stored else None


def applied(stored: bytes | None) -> list[bytes]:
    """The deliveries of a stored `OrderRow.digest`, oldest first."""
    if not stored or len(stored) <= DIGEST_BYTES:
        return []
    return [stored[i : i + ENTRY_BYTES] for i in range(DIGEST_BYTES, len(stored), ENTRY_BYTES)]


def after(window: list[bytes], planned: bytes | None, keep: int = WINDOW) -> list[bytes]:
    """The window once the record `planned` (None: of no log) is planned in full, of at most `keep` deliveries
    (`WINDOW`, or more: a round keeps every record of the order it plans, see `plan_round`)."""
    if planned is None:
        return []
    last = window[-1] if window else b""
    if planned[:_STREAM] == last[:_STREAM] and planned[_STREAM:_AT] > last[_STREAM:_AT]:  # big-endian: as numbers
        return [*window[1 - keep :], planned]
    return [planned]


def stored_digest(written_by: bytes | None, window: list[bytes]) -> bytes | None:
    """What `OrderRow.digest` stores: the digest of the message that wrote the order, then the window."""
    if not window:
        return written_by
    return (written_by or bytes(DIGEST_BYTES)) + b"".join(window)
