"""The operator console: server-rendered pages over the use cases the API calls, at `/console` (and `/docs`).

`install(app)` is the one call the API's composition root makes. Pages: sign in, orders, an order, imports
(template, preview, confirm, progress, result), customers, pipeline. See docs/console.md.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from services.ingest.entrypoints.console import import_routes, routes
from services.ingest.entrypoints.console.assets import install_assets
from services.ingest.entrypoints.console.session import Signer
from services.ingest.entrypoints.console.web import (
    PREFIX,
    Console,
    CsrfRejected,
    PageNotFound,
    SignInRequired,
    redirect,
    render,
)


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
        return redirect(request, f"{PREFIX}/sign-in")

    @app.exception_handler(PageNotFound)
    async def on_not_found(request: Request, _: PageNotFound) -> Response:
        return render(request, "not_found.html", status=404)

    @app.exception_handler(CsrfRejected)
    async def on_csrf(request: Request, _: CsrfRejected) -> Response:
        return render(request, "not_found.html", status=403, error="error.csrf")
