"""Bounds of the HTTP server: request body size, how long a client may take to send a request, uploads in flight.

- `BodySizeLimit`: 413 when Content-Length or the bytes actually received exceed the limit (an oversized upload is
  refused before it is read whole).
- `head_deadline_protocol`: the request line and headers must arrive within a deadline (uvicorn has none: a client
  that connects and trickles, or sends nothing, would hold a connection forever); past it 408 and the connection
  closes.
- `BodyDeadline`: the body must arrive within a deadline of its head; past it 408 and the connection closes.
- `upload_slot`: a dependency holding one of a fixed number of upload slots while an upload is handled; past
  them 503 with Retry-After (the CPU and memory an upload costs are bounded, whatever the number of clients).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.ingest.entrypoints.http.problems import ApiProblem, Problem

Scope = dict[str, Any]
Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
log = logging.getLogger("orderinfo.http")


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length or the bytes actually received exceed `max_bytes` (+ form overhead)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _refuse(send, _too_large(self.max_bytes))
            return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            """Counts the body as it streams; past the limit it answers 413 itself and tells the app the client
            is gone (frameworks turn an exception raised here into a 400 of their own)."""
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message: Message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                refused = True
                await _refuse(send, _too_large(self.max_bytes))
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, the 413 is the whole answer
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


class BodyDeadline:
    """ASGI middleware: the whole request body must be received within `seconds` of the request head.

    A client slower than that (1 byte/s) is answered 408 and its connection closed; the app sees the client as
    gone. Once the body is complete, no deadline applies (the app may wait for a disconnect as long as it likes).
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        state = {"timed_out": False, "started": False}

        async def timed_receive() -> Message:
            nonlocal deadline
            if state["timed_out"]:
                return {"type": "http.disconnect"}
            try:
                async with asyncio.timeout_at(deadline):
                    message: Message = await receive()
            except TimeoutError:
                state["timed_out"] = True
                log.info("request body not received within %ss: 408", self.seconds)
                if not state["started"]:
                    await _refuse(send, _too_slow(self.seconds))
                return {"type": "http.disconnect"}
            if message["type"] == "http.request" and not message.get("more_body", False):
                deadline = math.inf
            return message

        async def guarded_send(message: Message) -> None:
            if state["timed_out"]:
                return  # the 408 is the whole answer
            state["started"] = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not state["timed_out"]:
                raise
            log.debug("request abandoned after its body deadline", exc_info=True)


def head_deadline_protocol(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol (`uvicorn.run(http=...)`) with a deadline for each request head.

    The head (request line and headers) must be complete within `seconds` of the connection being made or of the
    previous response finishing. uvicorn itself arms no timer before a connection's first request and cancels its
    keep-alive timer on every byte received.
    """

    class HeadDeadlineProtocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            cycle = self.cycle
            super().data_received(data)
            if self.cycle is not cycle:  # a request head was parsed: its body has its own deadline
                self._disarm()

        def on_response_complete(self) -> None:
            cycle = self.cycle
            super().on_response_complete()
            if self.cycle is cycle and not self.transport.is_closing():  # no pipelined request started
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(seconds, self._timed_out)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _timed_out(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.write(_raw_response(_too_slow(seconds)))
                self.transport.close()

    return HeadDeadlineProtocol


@dataclass
class UploadSlots:
    """How many uploads may be handled at once; the counter lives on the event loop (no lock needed)."""

    limit: int
    retry_after_seconds: int
    in_flight: int = 0


async def upload_slot(request: Request) -> AsyncIterator[None]:
    """Holds an upload slot while the request is handled; none free: 503 with Retry-After."""
    slots: UploadSlots = request.app.state.upload_slots
    if slots.in_flight >= slots.limit:
        raise ApiProblem(
            503,
            "Too many uploads",
            f"{slots.limit} uploads are being handled: try again in {slots.retry_after_seconds} s",
            "too_many_uploads",
            headers={"Retry-After": str(slots.retry_after_seconds)},
        )
    slots.in_flight += 1
    try:
        yield
    finally:
        slots.in_flight -= 1


UploadSlot = Annotated[None, Depends(upload_slot)]


def _too_large(limit: int) -> Problem:
    detail = f"request bodies are limited to {limit} bytes"
    return Problem(title="Request too large", status=413, code="request_too_large", detail=detail)


def _too_slow(seconds: float) -> Problem:
    detail = f"the request was not received within {seconds:g} s"
    return Problem(title="Request timeout", status=408, code="request_timeout", detail=detail)


async def _refuse(send: Send, problem: Problem) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": problem.model_dump_json(exclude_none=True).encode()})


def _raw_response(problem: Problem) -> bytes:
    body = problem.model_dump_json(exclude_none=True).encode()
    head = (
        f"HTTP/1.1 {problem.status} {problem.title}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
