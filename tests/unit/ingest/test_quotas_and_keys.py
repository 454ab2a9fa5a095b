"""Token buckets, scopes and overlaps (pure), and that every API route declares the scope it needs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.ingest.domain.api_keys import KeyRequestError, Scope, key_name, parse_overlap, parse_scopes
from services.ingest.domain.quotas import TokenBucket, retry_after
from services.ingest.entrypoints.http.dependencies import ScopedDependency
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from tests.support.api import api_routes


def test_a_bucket_admits_its_rate_and_says_how_long_to_wait() -> None:
    bucket = TokenBucket.full(rate=10, capacity=10, now=0.0)
    assert bucket.take(10, now=0.0) == 0
    assert bucket.take(5, now=0.0) == pytest.approx(0.5)
    assert bucket.take(5, now=0.5) == 0
    assert bucket.take(1, now=0.5) == pytest.approx(0.1)


def test_a_request_larger_than_the_bucket_waits_for_it_full_then_owes_the_rest() -> None:
    bucket = TokenBucket.full(rate=1, capacity=10, now=0.0)
    assert bucket.take(15, now=0.0) == 0  # admitted from a full bucket
    assert bucket.take(1, now=0.0) == pytest.approx(6.0)  # -5 + 6 s -> 1
    assert retry_after(0.01) == 1 and retry_after(6.0) == 6


def test_scopes_names_and_overlaps_are_checked() -> None:
    assert parse_scopes([" Read", "push"]) == {Scope.READ, Scope.PUSH}
    with pytest.raises(KeyRequestError, match="'write' is not a scope"):
        parse_scopes(["write"])
    with pytest.raises(KeyRequestError, match="at least one"):
        parse_scopes([])
    with pytest.raises(KeyRequestError, match="name"):
        key_name(" \t")
    assert parse_overlap("90s") == timedelta(seconds=90) and parse_overlap("24h") == timedelta(hours=24)
    assert parse_overlap("3600") == timedelta(hours=1) and parse_overlap("0") == timedelta(0)
    for bad in ("31d", "-1s", "soon", "1e12", "nan", "inf"):
        with pytest.raises(KeyRequestError, match="overlap"):
            parse_overlap(bad)


def _scopes(dependant: object) -> list[tuple[Scope, ...]]:
    found = []
    for dependency in getattr(dependant, "dependencies", []):
        if isinstance(dependency.call, ScopedDependency):
            found.append(dependency.call.scopes)
        found += _scopes(dependency)
    return found


def test_every_api_route_declares_its_scope() -> None:
    app = create_app(IngestSettings())
    routes = [r for r in api_routes(app.routes) if r.path.startswith("/v1/")]
    assert len(routes) >= 12
    undeclared = [f"{sorted(r.methods)} {r.path}" for r in routes if not _scopes(r.dependant)]
    assert undeclared == []
    by_path = {(r.path, m): _scopes(r.dependant) for r in routes for m in r.methods}
    assert by_path[("/v1/orders:batch", "POST")] == [(Scope.PUSH,)]
    assert by_path[("/v1/keys", "GET")] == [(Scope.ADMIN,)]
    assert by_path[("/v1/imports", "POST")] == [(Scope.IMPORT,)]
    assert by_path[("/v1/orders", "GET")] == [(Scope.READ,)]
