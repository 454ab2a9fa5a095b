"""Request body limits, enforced while the body streams in: an oversized upload is refused before it is read whole."""

from __future__ import annotations

from typing import Any

from services.ingest.entrypoints.http.problems import Problem

Scope = dict[str, Any]
Message = dict[str, Any]


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
            await _refuse(send, self.max_bytes)
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
                await _refuse(send, self.max_bytes)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # once refused, the 413 is the whole answer
                await send(message)

        await self.app(scope, limited_receive, guarded_send)


async def _refuse(send: Any, limit: int) -> None:
    detail = f"request bodies are limited to {limit} bytes"
    problem = Problem(title="Request too large", status=413, code="request_too_large", detail=detail)
    body = problem.model_dump_json(exclude_none=True)
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/problem+json"), (b"connection", b"close")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body.encode()})
