"""Listing parameters that can match nothing by mistake (a reversed window, an empty filter) are a 422 saying
which, never an empty or unfiltered answer."""

from __future__ import annotations

import uuid

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


REPEATED, UNKNOWN = "repeated_parameter", "unknown_parameter"


@pytest.mark.parametrize(
    ("path", "query", "name", "code"),
    [
        ("/v1/orders", "order_no=A&order_no=B", "order_no", REPEATED),
        ("/v1/orders", f"customer_id={uuid.uuid4()}&customer_id={uuid.uuid4()}", "customer_id", REPEATED),
        ("/v1/orders/export", "format=csv&format=xlsx", "format", REPEATED),
        ("/v1/orders", "lang=zh&lang=en", "lang", REPEATED),
        ("/v1/admin/dead-letters", "since=2026-12-01T00:00:00Z&since=2026-12-02T00:00:00Z", "since", REPEATED),
        # a parameter the address does not take: a misspelt filter listed (or exported) everything as if filtered
        ("/v1/orders", "statuss=paid", "statuss", UNKNOWN),
        ("/v1/orders", "order_time_start=2026-12-01T00:00:00%2B08:00", "order_time_start", UNKNOWN),
        ("/v1/orders/export", "format=csv&store_no=S1", "store_no", UNKNOWN),
        ("/v1/imports", "state=failed", "state", UNKNOWN),
        ("/v1/admin/dead-letters", "reason_code=unknown_tenant", "reason_code", UNKNOWN),
        ("/v1/customers", "phone=13800138000", "phone", UNKNOWN),
    ],
)
async def test_a_query_parameter_given_twice_or_not_taken_is_a_422_naming_it(
    api: Api, path: str, query: str, name: str, code: str
) -> None:
    answer = await api.client.get(f"{path}?{query}", headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code and repr(name) in answer.json()["detail"]


async def test_a_repeatable_parameter_may_be_repeated(api: Api) -> None:
    answer = await api.client.get("/v1/orders?status=paid&status=shipped", headers=api.headers())
    assert answer.status_code == 200, answer.text


async def test_the_language_parameter_is_taken_everywhere(api: Api) -> None:
    answer = await api.client.get("/v1/imports?lang=en&limit=1", headers=api.headers())
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # a misspelt dry_run replayed every letter of the tenant for real; a misspelt reason replayed every reason
        ("/v1/admin/dead-letters:replay", {"dryrun": True}, "dryrun"),
        ("/v1/admin/dead-letters:replay", {"reason_code": "unknown_tenant", "dry_run": True}, "reason_code"),
        # a key asked to expire was created without an end
        ("/v1/keys", {"name": "shop sync", "scopes": ["push"], "expires_in": 3600}, "expires_in"),
    ],
)
async def test_a_body_field_the_address_does_not_take_is_a_422_naming_it(
    api: Api, path: str, body: dict[str, object], field: str
) -> None:
    answer = await api.client.post(path, json=body, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", field], answer.text
    keys = await api.client.get("/v1/keys", headers=api.headers())
    assert [k["name"] for k in keys.json()["items"]] == ["default"]


@pytest.mark.parametrize(
    ("path", "name", "extra"),
    [
        ("/v1/orders", "order_time_from", ""),
        ("/v1/orders", "order_time_to", ""),
        ("/v1/orders/export", "order_time_from", "&format=csv"),
        ("/v1/admin/dead-letters", "since", ""),
        ("/v1/admin/dead-letters", "until", ""),
    ],
)
async def test_an_offset_whose_plus_arrived_as_a_space_says_so(api: Api, path: str, name: str, extra: str) -> None:
    """`?order_time_from=2026-12-01T00:00:00+08:00` typed as is: a `+` in a query string is a space, and the answer
    was 'Input should be a valid datetime or date, unexpected extra characters at the end of the input'."""
    answer = await api.client.get(f"{path}?{name}=2026-12-01T00:00:00+08:00{extra}", headers=api.headers())
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert name in detail and "arrived as a space" in detail and "2026-12-01T00:00:00%2B08:00" in detail, detail
    fine = await api.client.get(f"{path}?{name}=2026-12-01T00:00:00%2B08:00{extra}", headers=api.headers())
    assert fine.status_code == 200, fine.text
