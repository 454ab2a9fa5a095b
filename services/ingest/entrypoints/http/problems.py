"""Errors as RFC 9457 problem details (`application/problem+json`), answered once, here at the HTTP edge (the
problem itself, `Problem` / `ApiProblem`, is the service's: `services/ingest/errors.py`, so the console shows the
same refusals without importing this edge)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from services.ingest.errors import ApiProblem, Problem, StorageUnavailable

log = logging.getLogger("orderinfo.http")
PROBLEM_JSON = "application/problem+json"
DATABASE_RETRY_AFTER_S = 5  # a restarting or failing-over PostgreSQL is back within seconds


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = problem.model_dump(mode="json", exclude_none=True)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries documenting problem answers."""
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}} for s in statuses}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def on_problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc.problem, exc.headers)

    # a client gone before its body was whole: read by a handler (push), or by FastAPI itself (forms, JSON), which
    # raises a 400 of its own from it
    @app.exception_handler(ClientDisconnect)
    async def on_disconnect(_: Request, __: ClientDisconnect) -> JSONResponse:
        return _incomplete_body()

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, ClientDisconnect):
            return _incomplete_body()
        title = {401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(Problem(title=title, status=exc.status_code, detail=detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in exc.errors()]
        return problem_response(
            Problem(
                title="Invalid request",
                status=422,
                code="invalid_request",
                errors=errors[:50],
                detail="; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5]),
            )
        )

    @app.exception_handler(StorageUnavailable)
    async def on_unavailable(_: Request, exc: StorageUnavailable) -> JSONResponse:
        return _database_unavailable(exc)

    # also what a middleware raises (the upload gate authenticates before the routes): it reaches this handler only
    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        unavailable = _unavailable_storage(exc)
        if unavailable is not None:
            return _database_unavailable(unavailable)
        log.exception("unexpected error")
        return problem_response(Problem(title="Internal error", status=500, detail="see the server log"))


def _incomplete_body() -> JSONResponse:
    log.info("the client went away before its request body was whole")
    detail = "the connection closed before the whole request body was received: send the request again"
    return problem_response(ApiProblem(400, "Incomplete request body", detail, "incomplete_body").problem)


def _unavailable_storage(exc: BaseException) -> StorageUnavailable | None:
    """The `StorageUnavailable` that `exc` is or wraps (a task group's exception group holds it as a leaf)."""
    if isinstance(exc, StorageUnavailable):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _unavailable_storage(inner)
            if found is not None:
                return found
    return None


def _database_unavailable(exc: StorageUnavailable) -> JSONResponse:
    unavailable = database_unavailable(exc)
    return problem_response(unavailable.problem, unavailable.headers)


def database_unavailable(exc: StorageUnavailable) -> ApiProblem:
    """The 503 of a request the database could not serve (logged here: one line, no traceback)."""
    log.warning("database unavailable: %s", exc.detail)
    detail = f"the database cannot be reached just now: try again in {DATABASE_RETRY_AFTER_S} s"
    retry = {"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    return ApiProblem(503, "Service unavailable", detail, "database_unavailable", headers=retry)
