"""Reading an upload's table in a child process, so that no file can take down or stall the process serving
the API: calamine aborts the process it runs in when an allocation fails (a sheet it takes for 5 GB of cells),
and a hostile file can hold a reader for seconds of CPU and gigabytes of memory.

Guarantees: `ReaderPool.read` answers what `spreadsheet_reader.read_table` answers (a `Table`, or its
`ImportFileError`), read by one of at most `size` pre-started worker processes, each with `memory` bytes of
address space and `seconds` of wall-clock time per read. A worker that dies (an abort), runs out of memory or of
time is refused as `workbook_too_complex` (a damaged legacy .xls as `encrypted_or_legacy_xls`, as ever), killed
and replaced; the others and their reads go on. Workers come from a `forkserver` (a clean interpreter that
imports the reader once): the API process, which runs threads and an event loop, is never forked. One read per
worker at a time: the caller's thread waits for a free worker (callers are upload threads, as many as workers).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import resource
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

from services.ingest.adapters.spreadsheet_reader import DAMAGED_XLS, OLE_MAGIC, Table, read_table
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError, too_complex
from services.ingest.domain.spreadsheet.options import ImportOptions

log = logging.getLogger(__name__)
READ_MEMORY = 1536 << 20  # address space per worker: a 5,000 x 25 .xlsx peaks at ~55 MB, 155 MB of XML at <1.5 GB
READ_SECONDS = 30.0
_START_SECONDS = 60.0  # a worker is forked from the forkserver, which imports the reader once (~0.5 s)
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["services.ingest.adapters.spreadsheet_reader"])


def _limit_memory(memory: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


Reader = Callable[[bytes, str, str | None, ImportOptions], Table]
_SEPARATOR = "\x00"  # joins a column's texts on the way back (a column with a text holding it goes as it is)


@dataclass(frozen=True, slots=True)
class _Compact:
    """A table as a worker sends it back: when it has its data rows column by column too, without the rows (their
    cells are the columns' texts) but their row numbers, and each column's texts joined into one string. The rows
    cost a third of the pickle's bytes and two thirds of its load in the API process (5,000 x 25: 1.9 MB, 27 ms);
    each text pickled apart, 9 ms to dump in the worker and 4 ms to load; a column joined, 1.2 and 3 ms."""

    table: Table
    row_nos: tuple[int, ...] | None = None
    columns: tuple[str | tuple[str, ...], ...] = ()


def _read_compact(reader: Reader, data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> _Compact:
    """The table `reader` reads, sent back as a `_Compact`."""
    table = reader(data, filename, sheet, options)
    if table.columns is None or not table.columns or not table.rows:
        return _Compact(table)
    row_nos = tuple(row_no for row_no, _ in table.rows)
    return _Compact(replace(table, rows=[], columns=None), row_nos, tuple(map(_joined, table.columns)))


def _joined(texts: tuple[str, ...]) -> str | tuple[str, ...]:
    joined = _SEPARATOR.join(texts)
    return joined if joined.count(_SEPARATOR) == len(texts) - 1 else texts


def _expand(compact: _Compact) -> Table:
    if compact.row_nos is None:
        return compact.table
    columns = [column if isinstance(column, tuple) else tuple(column.split(_SEPARATOR)) for column in compact.columns]
    rows: list[tuple[int, Sequence[str]]] = list(zip(compact.row_nos, zip(*columns, strict=True), strict=True))
    return replace(compact.table, rows=rows, columns=columns)


@dataclass(frozen=True)
class _Worker:
    executor: ProcessPoolExecutor
    pid: int


class ReaderPool:
    """Up to `size` worker processes reading uploads with `reader` (a module-level function: it is sent to the
    worker by name), started when first needed (`start` starts them all)."""

    def __init__(
        self, size: int, memory: int = READ_MEMORY, seconds: float = READ_SECONDS, reader: Reader = read_table
    ) -> None:
        self.size, self.memory, self.seconds, self.reader = size, memory, seconds, reader
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._started = 0

    def start(self) -> None:
        """Start every worker not started yet (for the first uploads not to wait for theirs)."""
        for worker in iter(self._claim_new, None):
            self._idle.put(worker)

    def read(self, data: bytes, filename: str, sheet: str | None, options: ImportOptions) -> Table:
        """`read_table(data, filename, sheet, options)` in a worker; see the module's guarantees."""
        worker = self._checkout()
        try:
            future = worker.executor.submit(_read_compact, self.reader, data, filename, sheet, options)
            table = _expand(future.result(timeout=self.seconds))
        except ImportFileError:
            self._idle.put(worker)
            raise
        except FutureTimeout:
            self._replace(worker)
            raise self._refusal(data, f"it was not read within {self.seconds:g} seconds") from None
        except MemoryError:
            self._replace(worker)
            raise self._refusal(data, f"reading it takes more than {self.memory >> 20:,} MB of memory") from None
        except BrokenProcessPool as exc:
            self._replace(worker)
            raise self._refusal(data, "the reader stopped on it") from exc
        except BaseException:
            self._replace(worker)
            raise
        self._idle.put(worker)
        return table

    def close(self) -> None:
        """Stop the idle workers (those reading stop when their read ends)."""
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            worker.executor.shutdown(wait=True)
            with self._lock:
                self._started -= 1

    def _refusal(self, data: bytes, cause: str) -> ImportFileError:
        if data.startswith(OLE_MAGIC):  # a damaged .xls, as told apart in the reader
            return ImportFileError(issues.ENCRYPTED_OR_LEGACY, DAMAGED_XLS)
        return ImportFileError(issues.WORKBOOK_TOO_COMPLEX, too_complex(cause))

    def _checkout(self) -> _Worker:
        """An idle worker, else a new one while fewer than `size` run, else the next one freed."""
        while True:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            worker = self._claim_new()
            if worker is not None:
                return worker
            try:
                return self._idle.get(timeout=1.0)
            except queue.Empty:
                continue  # a worker that failed to start again left room for one

    def _claim_new(self) -> _Worker | None:
        with self._lock:
            if self._started >= self.size:
                return None
            self._started += 1
        try:
            return self._new_worker()
        except BaseException:
            with self._lock:
                self._started -= 1
            raise

    def _new_worker(self) -> _Worker:
        executor = ProcessPoolExecutor(1, mp_context=_CONTEXT, initializer=_limit_memory, initargs=(self.memory,))
        return _Worker(executor, executor.submit(os.getpid).result(timeout=_START_SECONDS))

    def _replace(self, worker: _Worker) -> None:
        """Kill `worker` (it may still be reading) and put a fresh one in its place."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
        worker.executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._started -= 1
        try:
            fresh = self._claim_new()
        except Exception:  # the next read starts one again
            log.exception("a reader process could not be started")
            return
        if fresh is not None:
            self._idle.put(fresh)
