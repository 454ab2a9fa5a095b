"""Bounded thread pools for the CPU-heavy work of the API, apart from each other and from the loop's default
executor: an upload's parse never queues behind result-workbook builds (or anything else using `to_thread`).

`UPLOADS` has a worker per upload the server handles at once by default (further uploads are refused with 503
before they get here), and `READERS` a process reading the file of each; `DOWNLOADS` has two (the HTTP edge
refuses downloads past its own bound with 503)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from services.ingest.adapters.reader_processes import ReaderPool

T = TypeVar("T")
UPLOAD_THREADS = 4
UPLOADS = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="orderinfo-upload")
READERS = ReaderPool(UPLOAD_THREADS)  # an upload's file is read in a child process: one per upload thread
DOWNLOADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="orderinfo-download")


async def run_in(executor: ThreadPoolExecutor, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` on one of `executor`'s threads, awaited from the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(function, *args, **kwargs))


PUSHES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="orderinfo-push")  # validating pushed batches
