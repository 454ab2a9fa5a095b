"""Driver errors translated once, at the adapter edge, into the kinds the consumer classifies (see `errors`).

Unavailable (transient, and never a record's fault): the connection classes (08xxx, 57P0x operator intervention,
53300 too many connections), the client's own connection errors and timeouts. Transient: serialization failures
and deadlocks, and a unique violation of one of the customers' identity indexes (two consumers creating the same
customer at once: a retry sees the committed one).
Every other database error is permanent: a unique violation elsewhere means a statement lacks its `ON CONFLICT`,
a bug that retrying would only hide.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from services.ingest.errors import PermanentStorage, StorageError, StorageUnavailable, TransientStorage

UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
_CONFLICT_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}  # admin/crash shutdown, cannot connect now, too many
# Unique indexes a concurrent insert of the same customer can hit (migrations/0001_core.sql).
CONCURRENT_INSERT_CONSTRAINTS = {"customers_sobot", "customers_mobile", "customers_unionid"}
# The client's own errors: the connection is gone, closing or in a bad state (e.g. the pool closes at shutdown).
# Never a record's fault, so never a dead letter: at worst a bug that stalls the partition, visibly (restarts).
_CLIENT_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


def translate(exc: BaseException) -> StorageError | None:
    """The storage error kind of `exc`, or None when it is not a storage error (then it is a bug: let it raise)."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, asyncpg.PostgresError):
        return _of_sqlstate(exc.sqlstate or "", getattr(exc, "constraint_name", None), detail)
    if isinstance(exc, _CLIENT_UNAVAILABLE):
        return StorageUnavailable(detail)
    return None


def _of_sqlstate(sqlstate: str, constraint: str | None, detail: str) -> StorageError:
    if sqlstate in _UNAVAILABLE_SQLSTATES or sqlstate.startswith("08"):
        return StorageUnavailable(detail, sqlstate)
    if sqlstate in _CONFLICT_SQLSTATES or (
        sqlstate == UNIQUE_VIOLATION and constraint in CONCURRENT_INSERT_CONSTRAINTS
    ):
        return TransientStorage(detail, sqlstate)
    return PermanentStorage(detail, sqlstate)


@contextlib.asynccontextmanager
async def concurrent_inserts(constraint: str) -> AsyncIterator[None]:
    """Around a statement that inserts only rows its transaction found absent (and holds no lock on): a unique
    violation of `constraint` is another transaction's insert of the same row, committed meanwhile, so it is
    `TransientStorage` (the caller plans again over the committed row), not a bug."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != constraint:
            raise
        raise TransientStorage(f"{type(exc).__name__}: {exc}", UNIQUE_VIOLATION) from exc


@contextlib.asynccontextmanager
async def storage_errors() -> AsyncIterator[None]:
    """Re-raise driver errors of the block as `TransientStorage` / `PermanentStorage` (the cause kept)."""
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        translated = translate(exc)
        if translated is None:
            raise
        raise translated from exc


# A statement whose connection is lost midway: the server went away (an error of the statement itself is not this).
_CONNECTION_LOST = (ConnectionError, asyncpg.ConnectionDoesNotExistError)


def _connection_lost(exc: Exception) -> bool:
    unavailable = isinstance(exc, asyncpg.PostgresError) and isinstance(translate(exc), StorageUnavailable)
    return unavailable or isinstance(exc, _CONNECTION_LOST)


class TranslatingPool:
    """The pool as the HTTP API holds it: no connection to be had (refused, timed out, the pool closing, the
    server refusing connections) or a connection lost in a statement raises `StorageUnavailable`, so the edge
    answers 503 rather than 500; any other error of the block raises as it is. Everything else is the pool's."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def acquire(self, *, timeout: float | None = None) -> contextlib.AbstractAsyncContextManager[asyncpg.Connection]:
        return self._acquired(timeout)

    @contextlib.asynccontextmanager
    async def _acquired(self, wait_s: float | None) -> AsyncIterator[asyncpg.Connection]:
        async with contextlib.AsyncExitStack() as stack:
            try:
                conn = await stack.enter_async_context(self.pool.acquire(timeout=wait_s))
            except Exception as exc:
                raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc
            try:
                yield conn
            except Exception as exc:
                if not _connection_lost(exc):
                    raise
                raise StorageUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def __getattr__(self, name: str) -> object:
        return getattr(self.pool, name)
