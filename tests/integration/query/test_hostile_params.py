"""Forged cursors and hostile query parameters are 4xx problem documents, never 500 (finding 5, query side)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.integration.query.conftest import Catalogue, ClientFor

pytestmark = pytest.mark.integration


def cursor_of(raw: Any) -> str:
    text = raw if isinstance(raw, str) else json.dumps(raw)
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


T = "2026-03-01T09:00:00+08:00"
FORGED = {
    "lone surrogate n": cursor_of({"t": T, "n": "\ud800"}),
    "low surrogate n": cursor_of({"t": T, "n": "A\udfffB"}),
    "nul n": cursor_of({"t": T, "n": "A\x00"}),
    "control char n": cursor_of({"t": T, "n": "A\x07"}),
    "empty n": cursor_of({"t": T, "n": ""}),
    "long n": cursor_of({"t": T, "n": "N" * 65}),
    "int n": cursor_of({"t": T, "n": 10**400}),
    "huge float t": cursor_of('{"t": 1e999, "n": "A"}'),
    "naive t": cursor_of({"t": "2026-03-01T09:00:00", "n": "A"}),
    "year 1 east": cursor_of({"t": "0001-01-01T00:00:00+14:00", "n": "A"}),
    "year 9999 west": cursor_of({"t": "9999-12-31T23:59:59-14:00", "n": "A"}),
    "garbled t": cursor_of({"t": "yesterday", "n": "A"}),
    "list": cursor_of([T, "A"]),
    "nested deep": cursor_of("[" * 100_000 + "]" * 100_000)[:500],
    "not json": cursor_of("{not json"),
    "not utf-8": base64.urlsafe_b64encode(b'{"t": "\xff\xfe", "n": "A"}').decode(),
    "surrogate bytes": base64.urlsafe_b64encode(b'{"t": "%s", "n": "\xed\xa0\x80"}' % T.encode()).decode(),
    "bad base64": "!!!!",
    "bad padding": "abc",
    "non-ascii": "订单",
    "too long": "A" * 513,
}

PARAMS = {
    "/v1/orders": [
        "order_no",
        "order_no_prefix",
        "store",
        "status",
        "source",
        "customer_id",
        "order_time_from",
        "order_time_to",
        "limit",
        "cursor",
    ],
    "/v1/customers": ["mobile", "unionid", "sobot_customer_id"],
    "/v1/imports": ["limit"],
}
RAW_VALUES = [
    "%00",
    "A%00B",
    "%ED%A0%80",
    "%FF%FE",
    "%C0%AF",
    "%0A%0D",
    "%E2%80%AE",
    "1" * 400,
    "-1",
    "0",
    "99999-01-01T00:00:00Z",
    "0001-01-01T00:00:00%2B14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-02-30T00:00:00Z",
    "1e309",
    "NaN",
    "%20",
    "",
]


def assert_problem_or_ok(answer: httpx.Response) -> None:
    assert answer.status_code < 500, (answer.request.url, answer.text)
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json", answer.text
        assert answer.json()["status"] == answer.status_code


@pytest.mark.parametrize("cursor", FORGED.values(), ids=FORGED.keys())
async def test_a_forged_cursor_is_a_400_or_422_problem(
    catalogue: Catalogue, client_for: ClientFor, cursor: str
) -> None:
    answer = await client_for(catalogue.key_a).get("/v1/orders", params={"cursor": cursor})
    assert answer.status_code in (400, 422), answer.text
    assert_problem_or_ok(answer)


@pytest.mark.parametrize("path", PARAMS)
async def test_hostile_query_values_never_answer_500(catalogue: Catalogue, client_for: ClientFor, path: str) -> None:
    client = client_for(catalogue.key_a)
    for name in PARAMS[path]:
        for value in RAW_VALUES:
            assert_problem_or_ok(await client.get(f"{path}?{name}={value}"))
            assert_problem_or_ok(await client.get(f"{path}?{name}={value}&{name}={value}"))
    assert_problem_or_ok(await client.get(f"{path}?" + "&".join(f"x{i}=1" for i in range(2000))))


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF", "%00", "A%00", "%C0%AF", "%2F%00"])
async def test_hostile_path_values_never_answer_500(catalogue: Catalogue, client_for: ClientFor, raw: str) -> None:
    client = client_for(catalogue.key_a)
    for path in (f"/v1/orders/{raw}", f"/v1/customers/{raw}", f"/v1/imports/{raw}", f"/v1/imports/{raw}/result.xlsx"):
        assert_problem_or_ok(await client.get(path))
