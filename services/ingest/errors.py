"""The ingest service's error vocabulary, and how each kind is handled at the edges.

- A bad record (not UTF-8, not JSON, fails the contract, has no key or the wrong one, claims an unknown tenant or
  another tenant's import): dead-lettered with a reason code and a message fit for the producer's end user; the
  rest of its batch goes on.
- A storage failure, translated once from the driver at the adapter edge (`adapters/storage.py`):
  `TransientStorage` (deadlock, serialization failure, a concurrent insert of the same customer identity; and
  `StorageUnavailable`, the database unreachable) is retried with backoff a bounded number of times;
  `PermanentStorage` (anything else, e.g. a unique violation no concurrent insert explains: a bug) is never
  retried as is. Either way, a batch that still fails takes the split path: applied record by record, and the
  record that fails on its own is dead-lettered as `processing_error`, with the driver's text in the
  `x-exception` header only. While the database is unavailable nothing is dead-lettered: the batch is rewound
  and redelivered.
- A whole request refused (unknown import, bad cursor, too many uploads): `ApiProblem`, an RFC 9457 problem that
  the HTTP edge answers as a problem document (`entrypoints/http/problems.py`) and the console shows on its page.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

# Reason codes of dead letters (the `x-reason-code` header).
INVALID_ENCODING = "invalid_encoding"
INVALID_JSON = "invalid_json"
CONTRACT_VIOLATION = "contract_violation"
MISSING_KEY = "missing_key"
KEY_MISMATCH = "key_mismatch"
UNKNOWN_TENANT = "unknown_tenant"
IMPORT_OF_ANOTHER_TENANT = "import_of_another_tenant"
ERASED_CUSTOMER = "erased_customer"  # the buyer gives an identifier erased on request (PIPL)
PROCESSING_ERROR = "processing_error"  # genuine infrastructure faults only: never a value problem


class StorageError(Exception):
    """A database failure, translated from the driver. `detail` is the driver's text: for logs and headers only."""

    def __init__(self, detail: str, sqlstate: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.sqlstate = detail, sqlstate


class TransientStorage(StorageError):
    """Retrying the same batch later can succeed."""


class StorageUnavailable(TransientStorage):
    """The database cannot be reached (or refuses connections): no record is at fault, none is dead-lettered."""


class PermanentStorage(StorageError):
    """Retrying the same batch as is will fail again."""


class BrokerUnavailable(Exception):
    """Kafka did not answer (or refused) an operator's request (dead-letter listing or replay): retry later."""


def backoff_delay(attempt: int, *, base: float = 0.2, cap: float = 10.0) -> float:
    """Exponential backoff with jitter: ~0.2 s, 0.4 s, ... up to `cap`."""
    jitter = int.from_bytes(os.urandom(1), "big") / 255
    return float(min(cap, base * (2**attempt)) * (0.5 + jitter / 2))


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    errors: list[dict[str, Any]] | None = None
    errors_total: int | None = Field(
        None, description="How many row errors a strict refusal found in all (`errors` lists the first of them)."
    )
    errors_truncated: bool | None = Field(
        None, description="True when `errors` lists only the first of them: the import's result.xlsx has every one."
    )
    import_id: UUID | None = None  # the import a refusal recorded (strict mode), to read and download


class ApiProblem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        import_id: UUID | None = None,
        errors_total: int | None = None,
        errors_truncated: bool | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.headers = headers
        self.problem = Problem(
            type=f"https://orderinfo.dev/problems/{code}" if code else "about:blank",
            title=title,
            status=status,
            detail=detail,
            code=code,
            errors=errors,
            errors_total=errors_total,
            errors_truncated=errors_truncated,
            import_id=import_id,
        )
