"""Rate limits as token buckets. Pure: the caller passes the time (a monotonic clock), nothing is read here.

A bucket fills at `rate` tokens per second up to `capacity`. A request for n tokens is admitted when the bucket
holds min(n, capacity) (a request larger than the bucket is admitted once it is full), and takes n: the bucket may
go below zero, so a large request is paid for by the wait of the next ones. Long-run admitted tokens per second
never exceed `rate` (plus one `capacity` of burst).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens per second, > 0
    capacity: float
    tokens: float
    updated: float  # the time of `tokens`, in seconds

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate, capacity, capacity, now)

    def level(self, now: float) -> float:
        return min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)

    def take(self, n: float, now: float) -> float:
        """Take `n` tokens and answer 0, or take nothing and answer the seconds to wait before asking again."""
        self.tokens, self.updated = self.level(now), max(now, self.updated)
        needed = min(n, self.capacity)
        if self.tokens >= needed:
            self.tokens -= n
            return 0.0
        return (needed - self.tokens) / self.rate

    def is_full(self, now: float) -> bool:
        return self.level(now) >= self.capacity


def retry_after(seconds: float) -> int:
    """Whole seconds for a Retry-After header: at least 1."""
    return max(1, math.ceil(seconds))
