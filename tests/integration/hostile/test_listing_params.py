"""Listing parameters that can match nothing by mistake (a reversed window, an empty filter) are a 422 saying
which, never an empty or unfiltered answer."""

from __future__ import annotations

import pytest

from tests.integration.hostile.conftest import Api

pytestmark = pytest.mark.integration

LATER, EARLIER = "2026-12-02T00:00:00+08:00", "2026-12-01T00:00:00+08:00"


async def test_a_reversed_dead_letter_window_is_a_422_naming_both_parameters(api: Api) -> None:
    listed = await api.client.get(
        "/v1/admin/dead-letters", params={"since": LATER, "until": EARLIER}, headers=api.headers()
    )
    replayed = await api.client.post(
        "/v1/admin/dead-letters:replay", json={"since": LATER, "until": EARLIER}, headers=api.headers()
    )
    for answer in (listed, replayed):
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_time_range"
        assert "since" in answer.json()["detail"] and "until" in answer.json()["detail"]


@pytest.mark.parametrize(("path", "extra"), [("/v1/orders", {}), ("/v1/orders/export", {"format": "csv"})])
async def test_an_empty_source_is_a_422_not_every_source(api: Api, path: str, extra: dict[str, str]) -> None:
    answer = await api.client.get(path, params={"source": "", **extra}, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert "source" in answer.json()["detail"]
