"""Console sessions: a signed token in an HttpOnly, SameSite=Strict cookie (Secure over TLS), and CSRF tokens.

The cookie holds `{"t": tenant id or null, "n": tenant name, "k": key id, "x": expiry, "c": nonce}` signed
with HMAC-SHA256 by a secret of this process (restarting the API signs everyone out). Every visitor gets a nonce,
signed in or not, so the sign-in form is CSRF-protected too; a form's CSRF token is HMAC(secret, "csrf:" + nonce) and
is checked on every state-changing request. Signing in always issues a new nonce (no session fixation); signing out
ends the session (its token is refused from then on, a copy of the cookie too) and drops the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from uuid import UUID

from fastapi import Request
from fastapi.responses import Response

from services.ingest.adapters.tenants import Tenant

COOKIE = "oi_session"
LIFETIME_S = 8 * 3600
ENDED_KEPT = 100_000  # signed-out sessions remembered (about 10 MB)


@dataclass(frozen=True)
class Session:
    nonce: str
    expires: int
    tenant_id: UUID | None = None
    tenant_name: str = ""
    key_id: UUID | None = None  # the key that signed in: each page checks it still works, and takes its scopes

    @property
    def signed_in(self) -> bool:
        return self.tenant_id is not None


class Signer:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._ended: dict[str, int] = {}  # nonce -> expiry of the sessions signed out (this process signs them)

    def end(self, session: Session, now: float | None = None) -> None:
        """Signing out: `load` refuses the session's token from now on, a copy of the cookie included. Kept until
        the session would have expired, at most the latest `ENDED_KEPT` (bounded memory; anonymous sessions,
        which anyone can make, are not kept: they read nothing)."""
        if not session.signed_in:
            return
        moment = now or time.time()
        while self._ended and (len(self._ended) >= ENDED_KEPT or next(iter(self._ended.values())) <= moment):
            del self._ended[next(iter(self._ended))]  # oldest first: sign-outs are kept in the order they came
        self._ended[session.nonce] = session.expires

    def _mac(self, purpose: str, data: bytes) -> str:
        digest = hmac.new(self._secret, purpose.encode() + b":" + data, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def dump(self, session: Session) -> str:
        tenant = str(session.tenant_id) if session.tenant_id else None
        key = str(session.key_id) if session.key_id else None
        raw = json.dumps({"t": tenant, "n": session.tenant_name, "k": key, "x": session.expires, "c": session.nonce})
        body = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return f"{body}.{self._mac('session', body.encode())}"

    def load(self, token: str | None, now: float | None = None) -> Session | None:
        """The session a token of `dump` holds; None when it is forged, damaged, expired or ended."""
        session = self._read(token)
        if session is None:
            return None
        alive = session.expires > (now or time.time()) and session.nonce not in self._ended
        return session if alive else None

    def lapsed(self, token: str | None) -> bool:
        """Whether `token` is a genuine signed-in session that no longer works (expired or ended): its owner is told
        why they must sign in again, a stranger's cookie is not."""
        session = self._read(token)
        return session is not None and session.signed_in and self.load(token) is None

    def _read(self, token: str | None) -> Session | None:
        """The session of a genuine token, alive or not. A token is ASCII (base64url and a dot); anything else is
        refused before `hmac.compare_digest`, which raises on it."""
        if not token or not token.isascii() or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac("session", body.encode())):
            return None
        try:
            raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            tenant, key = (UUID(raw[k]) if raw[k] else None for k in ("t", "k"))
            session = Session(str(raw["c"]), int(raw["x"]), tenant, str(raw["n"]), key)
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.nonce.encode())

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        given = str(token or "")
        return bool(given) and given.isascii() and hmac.compare_digest(given, self.csrf_token(session))


def new_session(tenant: Tenant | None = None) -> Session:
    """An anonymous session, or one signed in by `tenant`'s key; always with a new nonce."""
    expires = int(time.time()) + LIFETIME_S
    if tenant is None:
        return Session(secrets.token_urlsafe(16), expires)
    return Session(secrets.token_urlsafe(16), expires, tenant.id, tenant.name, tenant.key_id)


def set_cookie(response: Response, request: Request, signer: Signer, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        signer.dump(session),
        max_age=LIFETIME_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
