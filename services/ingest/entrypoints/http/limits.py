"""Bounds of the HTTP server: request body size, how long a client may take to send a request, uploads in flight.

- `BodySizeLimit`: 413 when Content-Length or the bytes actually received exceed the limit (an oversized upload is
  refused before it is read whole).
- `head_deadline_protocol`: the request line and headers must arrive within a deadline (uvicorn has none: a client
  that connects and trickles, or sends nothing, would hold a connection forever); past it 408 and the connection
  closes.
- `BodyDeadline`: the body must arrive at a minimum rate after a grace period; past it 408 and the connection
  closes.
- `IdentityBodies`: a request body sent with a `Content-Encoding` (gzip, br, ...) is refused 415 before it is read:
  the API reads bodies as they are sent (a gzip body would be taken for the JSON or the file itself).
- `UploadGate` (with `application.uploads.Slots`): on the upload route, the API key is checked and one of a
  fixed number of upload slots taken from the request head, before the body is read; a tenant may hold only its
  share of the slots (past it 429), the server only so many (past them 503), both with Retry-After: the CPU and
  memory uploads cost are bounded whatever the number of clients, and no tenant can keep the others out.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from services.ingest.application.uploads import Slots
from services.ingest.domain.language import Lang, choose_lang, file_message
from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import file_too_large
from services.ingest.entrypoints.http.dependencies import GATED_TENANT, gated_tenant, tenant_of_request
from services.ingest.entrypoints.http.problems import database_unavailable
from services.ingest.errors import ApiProblem, Problem, StorageUnavailable

Scope = dict[str, Any]
Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]
log = logging.getLogger("orderinfo.http")


class BodySizeLimit:
    """ASGI middleware: 413 when Content-Length or the bytes actually received exceed `max_bytes` (+ form overhead).

    On an upload route (`upload_paths`) the refusal is the import's own `file_too_large`, naming `file_limit` in MB
    in the request's language (`?lang=`, else `Accept-Language`, else zh-CN), as the parser's refusal of a file
    just over the limit is."""

    def __init__(
        self, app: Any, max_bytes: int, upload_paths: frozenset[str] = frozenset(), file_limit: int = 0
    ) -> None:
        self.app, self.max_bytes, self.upload_paths, self.file_limit = app, max_bytes, upload_paths, file_limit

    def _refusal(self, scope: Scope) -> Problem:
        if scope.get("path") not in self.upload_paths:
            return _too_large(self.max_bytes)
        return file_too_large_problem(scope, self.file_limit)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await refuse(send, self._refusal(scope))
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
                await refuse(send, self._refusal(scope))
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, the 413 is the whole answer
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


class IdentityBodies:
    """ASGI middleware: 415 `unsupported_content_encoding` for a request carrying a `Content-Encoding` other than
    `identity`, answered before its body is read."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = b", ".join(v for k, v in scope.get("headers") or [] if k == b"content-encoding")
            encodings = {e.strip().lower() for e in given.split(b",")} - {b"", b"identity"}
            if encodings:
                await refuse(send, _encoded(given.decode("latin-1")))
                return
        await self.app(scope, receive, send)


def _encoded(given: str) -> Problem:
    detail = (
        f"request bodies are read as sent: Content-Encoding {given[:100]!r} is not accepted; send the body "
        "uncompressed, without the header"
    )
    return Problem(
        type="https://orderinfo.dev/problems/unsupported_content_encoding",
        title="Unsupported Content-Encoding",
        status=415,
        code="unsupported_content_encoding",
        detail=detail,
    )


class BodyDeadline:
    """ASGI middleware: a request body must arrive at `min_rate` bytes/s at least, after `grace` seconds.

    By t seconds after the request head, at least `min_rate * (t - grace)` bytes must have been received: a slow
    but steady uplink sends a full-size upload, a client trickling (1 byte/s) or stalling is answered 408 and its
    connection closed; the app sees the client as gone. A body of n bytes is thus bounded by `grace + n / min_rate`
    seconds. Once the body is complete, no deadline applies (the app may wait for a disconnect as long as it likes).
    """

    def __init__(self, app: Any, grace: float, min_rate: float) -> None:
        self.app, self.grace, self.min_rate = app, grace, min_rate

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = asyncio.get_running_loop().time() + self.grace
        state = {"timed_out": False, "started": False, "received": 0, "complete": False}

        async def timed_receive() -> Message:
            if state["timed_out"]:
                return {"type": "http.disconnect"}
            deadline = math.inf if state["complete"] else start + state["received"] / self.min_rate
            try:
                async with asyncio.timeout_at(deadline):
                    message: Message = await receive()
            except TimeoutError:
                state["timed_out"] = True
                log.info("request body slower than %g bytes/s: 408", self.min_rate)
                if not state["started"]:
                    await refuse(send, _too_slow_body(self.grace, self.min_rate))
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                state["complete"] = not message.get("more_body", False)
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


Authenticate = Callable[[Request], Awaitable[Any]]  # the principal (with an `id`) or ApiProblem(401)
Admit = Callable[[Request, Any], Awaitable[None]]  # None, or ApiProblem (a quota reached)
Refused = Callable[[str], None]  # told the code of each refusal (for metrics)


class UploadGate:
    """ASGI middleware on the upload route (`POST path`): from the request head alone, the API key is checked and an
    upload slot taken, before any byte of the body is read. A request without a valid key (401) or without a slot
    (429, 503) is answered unread (and its connection closed); FastAPI itself would parse and spool the whole
    multipart body before resolving any dependency. The tenant and the slot are handed to the route's dependencies.
    `admit` (a quota check of the tenant) runs before the slot is taken.
    """

    def __init__(
        self,
        app: Any,
        path: str,
        authenticate: Authenticate,
        admit: Admit | None = None,
        refused: Refused | None = None,
    ) -> None:
        self.app, self.path, self.authenticate, self.admit, self.refused = app, path, authenticate, admit, refused

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        slots: Slots = scope["app"].state.upload_slots
        try:
            tenant = await self.authenticate(Request(scope))
            if self.admit is not None:
                await self.admit(Request(scope), tenant)
            slots.take(tenant.id)
        except ApiProblem as exc:
            if self.refused is not None and exc.problem.code:
                self.refused(exc.problem.code)
            await refuse(send, exc.problem, exc.headers)
            return
        except StorageUnavailable as exc:  # answered here: past this middleware it would be counted a 500
            unavailable = database_unavailable(exc)
            await refuse(send, unavailable.problem, unavailable.headers)
            return
        scope.setdefault("state", {})[GATED_TENANT] = tenant
        try:
            await self.app(scope, receive, send)
        finally:
            slots.give_back(tenant.id)


async def upload_slot(request: Request) -> AsyncIterator[None]:
    """The request's upload slot: the one `UploadGate` took, else (an app without the gate) one taken here for the
    tenant of the request's API key (after FastAPI has read the body)."""
    if gated_tenant(request) is not None:
        yield
        return
    owner = (await tenant_of_request(request)).id
    slots: Slots = request.app.state.upload_slots
    slots.take(owner)
    try:
        yield
    finally:
        slots.give_back(owner)


UploadSlot = Annotated[None, Depends(upload_slot)]


def file_too_large_problem(scope: Scope, limit: int) -> Problem:
    """An upload past `limit` bytes refused from its request head, in the request's language."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [None])[-1]
    accept = dict(scope.get("headers") or []).get(b"accept-language", b"").decode("latin-1")
    lang = choose_lang(query if query in {lang.value for lang in Lang} else None, accept or None)
    detail = file_message(issues.FILE_TOO_LARGE, file_too_large(None, limit), lang)
    return Problem(title="Import file rejected", status=413, code=issues.FILE_TOO_LARGE, detail=detail)


def _too_large(limit: int) -> Problem:
    detail = f"request bodies are limited to {limit} bytes"
    return Problem(title="Request too large", status=413, code="request_too_large", detail=detail)


def _too_slow(seconds: float) -> Problem:
    detail = f"the request was not received within {seconds:g} s"
    return Problem(title="Request timeout", status=408, code="request_timeout", detail=detail)


async def refuse(send: Send, problem: Problem, headers: Mapping[str, str] | None = None) -> None:
    """Answer `problem` from a middleware, the request unread, and close the connection."""
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close"), *extra],
        }
    )
    await send({"type": "http.response.body", "body": problem.model_dump_json(exclude_none=True).encode()})


def _too_slow_body(grace: float, min_rate: float) -> Problem:
    detail = f"the request body arrived slower than {min_rate:g} bytes/s (after the first {grace:g} s)"
    return Problem(title="Request timeout", status=408, code="request_timeout", detail=detail)


def _raw_response(problem: Problem) -> bytes:
    body = problem.model_dump_json(exclude_none=True).encode()
    head = (
        f"HTTP/1.1 {problem.status} {problem.title}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body
