"""What every console page shares: the session behind the cookie, the language, CSRF checks and rendering.

Pages are server-rendered Jinja2 templates (autoescaped). Every answer carries a Content-Security-Policy that
allows this origin only: no page loads or posts anything elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.core.order import OrderSource, OrderStatus
from services.ingest.adapters.tenants import Tenant, tenant_for_key_id
from services.ingest.entrypoints.console import messages
from services.ingest.entrypoints.console.session import COOKIE, Session, Signer, new_session, set_cookie

LANG_COOKIE = "oi_lang"
PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    """A page was asked for without a signed-in session: answered with a redirect to the sign-in page."""


class PageNotFound(Exception):
    """Nothing of this tenant's at this address (another tenant's record included): answered with a 404 page."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token: answered with a 403 page."""


@dataclass
class Console:
    signer: Signer
    zone: ZoneInfo
    env: Environment = field(init=False)

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(default=True)
        )
        self.env.filters["when"] = self.when

    def when(self, value: datetime | str | None) -> str:
        if value is None:
            return "—"
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def language(request: Request) -> str:
    return messages.choose_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def current_session(request: Request) -> Session:
    """The visitor's session (signed in or not); a fresh anonymous one when the cookie is missing or invalid."""
    cached: Session | None = getattr(request.state, "console_session", None)
    if cached is None:
        cached = console(request).signer.load(request.cookies.get(COOKIE)) or new_session()
        request.state.console_session = cached
    return cached


async def signed_in(request: Request) -> Tenant:
    """The session's tenant, as the key that signed in names it now (its scopes with it); every page reads only
    this tenant's data. A key revoked or expired since signs its sessions out at their next request."""
    session = current_session(request)
    if session.tenant_id is None or session.key_id is None:
        raise SignInRequired()
    async with request.app.state.pool.acquire() as conn:
        tenant = await tenant_for_key_id(conn, session.tenant_id, session.key_id)
    if tenant is None:
        raise SignInRequired()
    return tenant


async def check_csrf(request: Request) -> dict[str, Any]:
    """The posted form, after checking its CSRF token (or the X-CSRF-Token header) and, if sent, the Origin."""
    form = dict(await request.form())
    origin = request.headers.get("origin")
    same_origin = origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"
    token = form.get("csrf") or request.headers.get("x-csrf-token")
    if not same_origin or not console(request).signer.csrf_ok(current_session(request), str(token or "")):
        raise CsrfRejected()
    return form


def render(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    lang = language(request)
    session = current_session(request)
    ctx = console(request)
    other = "en" if lang == "zh" else "zh"
    html = ctx.env.get_template(template).render(
        lang=lang,
        t=lambda key: messages.text(key, lang),
        label=lambda m: messages.label(m, lang),
        status_label=lambda v: messages.value_label(OrderStatus, v, lang),
        source_label=lambda v: messages.value_label(OrderSource, v, lang),
        session=session,
        csrf=ctx.signer.csrf_token(session),
        prefix=PREFIX,
        # the decoded path quoted whole: an order no. may hold "#", "?" or "%", and `request.url.path` quotes only some
        switch_url=f"{quote(request.scope['path'])}?{request.url.include_query_params(lang=other).query}",
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    return finish(request, response)


def finish(request: Request, response: Response) -> Response:
    """Persist what this request decided: the anonymous session's nonce and a language chosen by ?lang=."""
    if request.cookies.get(COOKIE) is None or not console(request).signer.load(request.cookies.get(COOKIE)):
        set_cookie(response, request, console(request).signer, current_session(request))
    chosen = request.query_params.get("lang")
    if chosen in messages.LANGUAGES:
        secure = request.url.scheme == "https"
        response.set_cookie(
            LANG_COOKIE, chosen, max_age=365 * 86400, httponly=True, samesite="strict", path="/", secure=secure
        )
    return response


def redirect(request: Request, url: str) -> Response:
    return finish(request, RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS))
