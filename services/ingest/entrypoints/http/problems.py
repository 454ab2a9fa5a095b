"""Errors as RFC 9457 problem details (`application/problem+json`), mapped once, here at the HTTP edge."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("orderinfo.http")
PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None
    errors: list[dict[str, Any]] | None = None
    import_id: UUID | None = None  # the import a refusal recorded (strict mode), to read and download


class ApiProblem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        import_id: UUID | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.headers = headers
        self.problem = Problem(
            type=f"https://orderinfo.dev/problems/{code}" if code else "about:blank",
            title=title,
            status=status,
            detail=detail,
            code=code,
            errors=errors,
            import_id=import_id,
        )


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
