"""Static assets: the console's own CSS/JS, and npm packages installed at install time (`make install` runs
`npm ci` into the git-ignored `node_modules/` at the repository root): Swagger UI for `/docs`, Chart.js for charts.

Nothing is loaded from the internet. Without the npm packages the console still works (charts fall back to their
tables) and `/docs` answers 503 saying how to install them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.routing import BaseRoute, Route

from services.ingest.entrypoints.console.web import PREFIX, SECURITY_HEADERS

SOURCE_NODE_MODULES = Path(__file__).resolve().parents[4] / "node_modules"  # a source checkout (`make install`)


def vendor_folders(node_modules: Path) -> dict[str, Path]:
    return {"swagger-ui": node_modules / "swagger-ui-dist", "chart.js": node_modules / "chart.js" / "dist"}


CDN_DOC_PATHS = {"/docs", "/docs/oauth2-redirect", "/redoc"}

DOCS_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Order Info API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{PREFIX}/vendor/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{PREFIX}/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{PREFIX}/static/docs.js"></script></body></html>"""


def _without_cdn_docs(routes: list[BaseRoute]) -> list[BaseRoute]:
    return [r for r in routes if not (isinstance(r, Route) and r.path in CDN_DOC_PATHS)]


def install_assets(app: FastAPI, node_modules: Path | None = None) -> None:
    """Mount the assets and replace FastAPI's CDN-loading `/docs` and `/redoc` by `/docs` from local files.
    `node_modules`: where `npm ci` put the packages (default: the checkout's; the image sets its own)."""
    vendor = vendor_folders(node_modules or SOURCE_NODE_MODULES)
    app.router.routes[:] = _without_cdn_docs(app.router.routes)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=Path(__file__).parent / "static"), name="console-static")
    for name, folder in vendor.items():
        app.mount(f"{PREFIX}/vendor/{name}", StaticFiles(directory=folder, check_dir=False), name=f"vendor-{name}")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if not (vendor["swagger-ui"] / "swagger-ui-bundle.js").exists():
            return HTMLResponse("Swagger UI is not installed: run `make install` (npm ci).", status_code=503)
        return HTMLResponse(DOCS_PAGE, headers=SECURITY_HEADERS)
