"""Console session tokens and CSRF tokens: what a forged, altered, expired or foreign token gets."""

from __future__ import annotations

import time
import uuid

import pytest

from services.ingest.adapters.tenants import Tenant
from services.ingest.entrypoints.console.session import Session, Signer, new_session


def test_a_signed_session_reads_back() -> None:
    signer = Signer()
    session = new_session(Tenant(uuid.uuid4(), "甲公司", key_id=uuid.uuid4()))
    assert signer.load(signer.dump(session)) == session


def test_an_altered_forged_or_foreign_token_is_no_session() -> None:
    signer, other = Signer(), Signer()
    token = signer.dump(new_session(Tenant(uuid.uuid4(), "a", key_id=uuid.uuid4())))
    body, mac = token.split(".")
    forged = other.dump(new_session(Tenant(uuid.uuid4(), "b", key_id=uuid.uuid4())))
    altered_mac = mac[:-1] + ("B" if mac.endswith("A") else "A")  # always a different last character
    for bad in (f"{body}x.{mac}", f"{body}.{altered_mac}", forged, "", "no-dot", "a.b.c", f"{body}.", ".x"):
        assert signer.load(bad) is None, bad


def test_an_expired_session_is_no_session() -> None:
    signer = Signer()
    session = Session("nonce", int(time.time()) - 1, uuid.uuid4(), "a")
    assert signer.load(signer.dump(session)) is None


def test_a_csrf_token_belongs_to_one_session() -> None:
    signer = Signer()
    one, two = new_session(), new_session(Tenant(uuid.uuid4(), "a", key_id=uuid.uuid4()))
    assert signer.csrf_ok(one, signer.csrf_token(one))
    assert not signer.csrf_ok(one, signer.csrf_token(two))
    assert not signer.csrf_ok(one, "")
    assert not signer.csrf_ok(one, None)


def test_signing_in_issues_a_new_nonce() -> None:
    assert new_session().nonce != new_session().nonce


def _cookie_header(scheme: str) -> str:
    from fastapi import Request
    from fastapi.responses import Response

    from services.ingest.entrypoints.console.session import set_cookie

    request = Request({"type": "http", "scheme": scheme, "path": "/", "headers": [], "server": ("h", 443)})
    response = Response()
    set_cookie(response, request, Signer(), new_session())
    return response.headers["set-cookie"].lower()


def test_the_cookie_is_httponly_strict_and_secure_over_tls() -> None:
    over_tls, plain = _cookie_header("https"), _cookie_header("http")
    for header in (over_tls, plain):
        assert "httponly" in header and "samesite=strict" in header and "path=/" in header
    assert "secure" in over_tls.replace("samesite", "")
    assert "secure" not in plain.replace("samesite", "")


def test_a_token_with_characters_no_token_has_is_no_session_and_no_csrf_match() -> None:
    # hmac.compare_digest raises TypeError on non-ASCII text: a cookie or a posted csrf of "é" answered 500
    signer = Signer()
    session = new_session()
    body = signer.dump(session).split(".")[0]
    for bad in (f"{body}.é", "é.é", f"{body}.\x00", "a.\udc80"):
        assert signer.load(bad) is None, bad
    for bad in ("é", signer.csrf_token(session) + "é", "\udc80"):
        assert not signer.csrf_ok(session, bad), bad


def test_an_ended_session_is_no_session_even_from_a_copied_cookie() -> None:
    # signing out only dropped the cookie: a copy of it (another tab's, a stolen one) still worked for 8 hours
    signer = Signer()
    ended, kept = (new_session(Tenant(uuid.uuid4(), name, key_id=uuid.uuid4())) for name in ("a", "b"))
    copied, other = signer.dump(ended), signer.dump(kept)
    signer.end(ended)
    assert signer.load(copied) is None
    assert signer.load(other) == kept


def test_ended_sessions_are_kept_in_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.ingest.entrypoints.console import session as module

    monkeypatch.setattr(module, "ENDED_KEPT", 3)
    signer = Signer()
    sessions = [new_session(Tenant(uuid.uuid4(), "a", key_id=uuid.uuid4())) for _ in range(5)]
    tokens = [signer.dump(s) for s in sessions]
    for s in sessions:
        signer.end(s)
    assert [signer.load(t) is None for t in tokens] == [False, False, True, True, True]
    anonymous = new_session()
    signer.end(anonymous)  # anyone can make one: not kept
    assert signer.load(signer.dump(anonymous)) == anonymous
