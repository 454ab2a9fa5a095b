"""The ingest service's error vocabulary, and how each kind is handled at the edges.

- A bad message (fails the contract, claims an unknown tenant or another tenant's import): dead-lettered with a
  reason code; the rest of its batch goes on.
- A transient failure (database unreachable, deadlock, serialization failure, a concurrent insert of the same
  customer): the whole batch is retried with backoff, never dead-lettered.
- A whole-request problem at the HTTP edge: a 4xx problem document (see the HTTP adapter).
"""

from __future__ import annotations

import asyncio
import os

# Reason codes of dead letters (the `x-reason-code` header).
INVALID_ENCODING = "invalid_encoding"
INVALID_JSON = "invalid_json"
CONTRACT_VIOLATION = "contract_violation"
KEY_MISMATCH = "key_mismatch"
UNKNOWN_TENANT = "unknown_tenant"
IMPORT_OF_ANOTHER_TENANT = "import_of_another_tenant"

# SQLSTATEs worth retrying: serialization failure, deadlock, unique violation (two consumers creating the same
# customer at once: the retry sees the committed one), and the connection/operator classes.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "23505", "57P01", "57P02", "57P03", "53300"}


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same batch later can succeed."""
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith("08")
    return isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError)) or type(exc).__name__ in {
        "ConnectionDoesNotExistError",
        "InterfaceError",
        "InternalClientError",
        "TooManyConnectionsError",
        "CannotConnectNowError",
    }


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 10.0) -> float:
    """Exponential backoff with jitter: ~0.2 s, 0.4 s, ... up to `cap`."""
    jitter = int.from_bytes(os.urandom(1), "big") / 255
    return float(min(cap, base * (2**attempt)) * (0.5 + jitter / 2))
