"""Order exports stream at most a tenant's share at once (and so many in all): past them 429 / 503 with Retry-After
before any byte. 16 xlsx exports of 20,000 orders by one tenant slowed another tenant's order list (10 orders) from
12 ms to 3.2 s at p95 (3.5 s at most), each export taking 43 s instead of 3."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.requests import ClientDisconnect

from services.ingest.application.uploads import Slots
from services.ingest.entrypoints.http.exports import _HoldingSlot
from tests.integration.hostile.conftest import Api

pytestmark = pytest.mark.integration


async def test_past_its_share_a_tenant_gets_429_past_the_slots_everyone_gets_503(api: Api) -> None:
    slots: Slots = api.app.state.export_slots
    assert (slots.limit, slots.share) == (4, 2)

    async def export(key: str) -> Any:
        return await api.client.get("/v1/orders/export", params={"format": "csv"}, headers=api.headers(key))

    for _ in range(slots.share):
        slots.take(api.tenant_b)  # the attacker's exports, still streaming
    refused = await export(api.key_b)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5", refused.text
    assert refused.json()["code"] == "too_many_tenant_exports"
    assert (await export(api.key_a)).status_code == 200  # another tenant is served
    for _ in range(slots.limit - slots.in_flight):
        slots.take("another tenant")
    busy = await export(api.key_a)
    assert busy.status_code == 503 and busy.json()["code"] == "too_many_exports", busy.text
    slots.by_tenant.clear()
    slots.in_flight = 0
    answer = await export(api.key_b)
    assert answer.status_code == 200 and answer.content.startswith(b"\xef\xbb\xbf")
    assert (slots.in_flight, dict(slots.by_tenant)) == (0, {})  # given back once sent
    assert (await api.client.get("/v1/orders/export", headers=api.headers(api.key_b))).status_code == 404  # the
    # order numbered "export" (no format: no export, no slot)


async def test_an_export_cut_off_by_its_client_gives_its_slot_back() -> None:
    given_back: list[str] = []

    async def rows() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"a,b\r\n"

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            raise OSError("the client went away")

    response = _HoldingSlot(rows(), lambda: given_back.append("slot"), media_type="text/csv")
    scope = {"type": "http", "asgi": {"spec_version": "2.4"}, "method": "GET", "path": "/", "headers": []}
    with pytest.raises(ClientDisconnect):  # what Starlette makes of the OSError
        await response(scope, receive, send)
    assert given_back == ["slot"]
