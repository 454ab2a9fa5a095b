"""The operator console: server-rendered pages over the use cases the API calls, at `/console` (and `/docs`).

`install(app)` is the one call the API's composition root makes. Pages: sign in, orders, an order, imports
(template, preview, confirm, progress, result), customers, pipeline. See docs/console.md.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.ingest.entrypoints.console import import_routes, routes
from services.ingest.entrypoints.console.assets import install_assets
from services.ingest.entrypoints.console.session import COOKIE, Signer, new_session, set_cookie
from services.ingest.entrypoints.console.web import (
    PREFIX,
    SECURITY_HEADERS,
    Console,
    CsrfRejected,
    PageNotFound,
    SignInRequired,
    console,
    current_session,
    redirect,
    render,
)

log = logging.getLogger("orderinfo.console")


def _polled(request: Request) -> bool:
    """A request of the import page's progress script (`status.json`), which reads JSON, never a page."""
    return request.url.path.endswith("/status.json")


def install(app: FastAPI) -> None:
    app.state.console = Console(Signer(), ZoneInfo(app.state.settings.default_timezone))
    app.state.console_uploads = import_routes.PendingUploads()
    app.include_router(routes.router)
    app.include_router(import_routes.router)
    assets = app.state.settings.console_assets_dir
    install_assets(app, Path(assets) if assets else None)

    @app.get("/", include_in_schema=False)
    @app.get(PREFIX, include_in_schema=False)  # the app redirects no trailing slash itself
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=307)

    @app.exception_handler(SignInRequired)
    async def on_sign_in_required(request: Request, _: SignInRequired) -> Response:
        """To the sign-in page; saying the session ended when it had been signed in (8 hours passed, signed out
        elsewhere, its key revoked)."""
        signer, session = console(request).signer, current_session(request)
        ended = session.signed_in or signer.lapsed(request.cookies.get(COOKIE))
        if _polled(request):  # the progress script reloads the page, which then goes to sign in
            response: Response = JSONResponse({"problem": "sign_in"}, status_code=401, headers=SECURITY_HEADERS)
        else:
            response = redirect(request, f"{PREFIX}/sign-in" + ("?ended=1" if ended else ""))
        if session.signed_in:  # its key no longer works: the session ends here
            set_cookie(response, request, signer, new_session())
        return response

    @app.exception_handler(PageNotFound)
    async def on_not_found(request: Request, _: PageNotFound) -> Response:
        if _polled(request):
            return JSONResponse({"problem": "not_found"}, status_code=404, headers=SECURITY_HEADERS)
        return render(request, "not_found.html", status=404)

    api_answer = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        """An address or method the console does not have, or a body it cannot read, is a console page in the
        reader's language; the API's stay its problems."""
        if not request.url.path.startswith(f"{PREFIX}/"):
            answer = api_answer(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        error = {404: None, 405: "error.method"}.get(exc.status_code, "error.bad_request")
        return render(request, "not_found.html", status=exc.status_code, error=error)

    api_error = app.exception_handlers.get(Exception)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        """A failure of a console page is a console page saying so (the details go to the log only)."""
        if request.url.path.startswith(f"{PREFIX}/"):
            log.error("console page failed: %s", request.url.path, exc_info=exc)
            return render(request, "not_found.html", status=500, error="error.unexpected")
        if api_error is None:
            raise exc
        answer = api_error(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    @app.exception_handler(CsrfRejected)
    async def on_csrf(request: Request, _: CsrfRejected) -> Response:
        return render(request, "not_found.html", status=403, error="error.csrf")
