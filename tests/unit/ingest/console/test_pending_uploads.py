"""Previews waiting for their confirmation: bounded in number, bound to their tenant, and one tenant's uploads never
push another tenant's preview out."""

from __future__ import annotations

import time
import uuid

from services.ingest.entrypoints.console.import_routes import PENDING_KEPT, PendingUpload, PendingUploads


def _upload(tenant: uuid.UUID) -> PendingUpload:
    return PendingUpload(tenant, "a.csv", b"x", "Asia/Shanghai", "partial", time.time())


def test_a_preview_is_confirmed_once_and_by_its_tenant_only() -> None:
    pending, mine, other = PendingUploads(), uuid.uuid4(), uuid.uuid4()
    token = pending.keep(_upload(mine))
    assert pending.take(token, other) is None
    assert pending.take(token, mine) is not None
    assert pending.take(token, mine) is None


def test_one_tenants_uploads_do_not_push_another_tenants_preview_out() -> None:
    # the latest PENDING_KEPT previews of all tenants were kept: eight uploads of one tenant made another tenant's
    # confirmation answer "the preview has expired"
    pending, victim, busy = PendingUploads(), uuid.uuid4(), uuid.uuid4()
    kept = pending.keep(_upload(victim))
    busy_tokens = [pending.keep(_upload(busy)) for _ in range(PENDING_KEPT * 2)]
    assert pending.take(kept, victim) is not None
    newest = PENDING_KEPT - 1  # bounded: the busy tenant keeps its latest previews, in what the victim leaves
    assert [pending.take(t, busy) is not None for t in busy_tokens] == [False] * (len(busy_tokens) - newest) + [
        True
    ] * newest
