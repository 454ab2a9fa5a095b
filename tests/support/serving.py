"""An ASGI app served by a real uvicorn server in this process, on a free loopback port (for socket-level tests)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from tests.support.waiting import eventually


class _Server(uvicorn.Server):
    """Without uvicorn's signal capture (which would replace the test process's SIGINT handler)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncIterator[tuple[str, int]]:
    """Serve `app` with uvicorn `options` until the block ends; yields (host, port)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, log_level="warning", **options))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        assert not task.done(), "the server stopped"
        return bool(server.started)

    try:
        await eventually(started, bool, within=30)
        yield "127.0.0.1", sock.getsockname()[1]
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), 5)
        except TimeoutError:  # connections still open (a failed test's clients): do not wait for them
            server.force_exit = True
            await task
