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

from services.ingest.errors import ApiProblem, Problem

log = logging.getLogger("orderinfo.http")
PROBLEM_JSON = "application/problem+json"


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

    @app.exception_handler(StarletteHTTPException)
    async def on_http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
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

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem_response(Problem(title="Internal error", status=500, detail="see the server log"))
