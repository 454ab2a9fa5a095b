"""Paths a client bends (a trailing slash, a forged Host): answered here, never sent to another site."""

from __future__ import annotations

import pytest

from tests.integration.hostile.conftest import Api

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("path", ["/v1/keys/", "/v1/customers/", "/v1/imports/", "/v1/admin/dead-letters/"])
async def test_a_trailing_slash_is_a_404_never_a_redirect_to_the_host_header(api: Api, path: str) -> None:
    answer = await api.client.get(path, headers=api.headers() | {"Host": "evil.example"})
    assert answer.status_code == 404, answer.headers
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_the_console_without_its_slash_redirects_within_the_site(api: Api) -> None:
    answer = await api.client.get("/console", headers={"Host": "evil.example"})
    assert answer.status_code in (301, 302, 303, 307, 308)
    assert answer.headers["location"] == "/console/"
