"""Bounded thread pools for the CPU-heavy work of the API, apart from each other and from the loop's default
executor: an upload's parse never queues behind result-workbook builds (or anything else using `to_thread`).

`UPLOADS` has a worker per upload the server handles at once by default (further uploads are refused with 503
before they get here); `DOWNLOADS` has two (the HTTP edge refuses downloads past its own bound with 503)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
UPLOADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="orderinfo-upload")
DOWNLOADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="orderinfo-download")


async def run_in(executor: ThreadPoolExecutor, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` on one of `executor`'s threads, awaited from the event loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(function, *args, **kwargs))


PUSHES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="orderinfo-push")  # validating pushed batches
