"""Which partition a keyed record goes to: Kafka's default (murmur2 of the key, as the Java client and aiokafka's
`DefaultPartitioner` compute it), so every producer of a topic, in any language, puts a key on the same partition,
and the compacted `customers.updated.v1` keeps one latest record per key.

aiokafka's pure-Python murmur2 was the relay's largest single cost per event (about a third of its CPU): this one
reads the key's 4-byte words in one `struct` call and remembers the hashes of recent keys (an order's events share
a key and are usually published together).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

_SEED, _M, _MASK = 0x9747B28C, 0x5BD1E995, 0xFFFFFFFF
CACHED_KEYS = 65_536


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of `data`, as an unsigned 32-bit value."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        rest = data[words * 4 :]
        if tail >= 3:
            h ^= rest[2] << 16
        if tail >= 2:
            h ^= rest[1] << 8
        h ^= rest[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


class KeyPartitioner:
    """A drop-in for aiokafka's `DefaultPartitioner` (same partition for every key), with a bounded hash cache."""

    def __init__(self, cached: int = CACHED_KEYS) -> None:
        self._hashes: dict[bytes, int] = {}
        self._cached = cached

    def __call__(self, key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
        if key is None:
            return random.choice(available or all_partitions)
        h = self._hashes.get(key)
        if h is None:
            if len(self._hashes) >= self._cached:
                self._hashes.clear()
            h = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[h % len(all_partitions)]
