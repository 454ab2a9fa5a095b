"""One vocabulary on the read side: filters take every spelling the file takes and answer one code plus its label
in the request's language; every time is RFC 3339 in UTC with `Z`; the persona has its published shape."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from services.rules_bridge.contracts.customer_updated_v1 import PersonaV1
from tests.integration.query.conftest import ClientFor, ingest, new_tenant
from tests.support.orders import message

EAST = timezone(timedelta(hours=8))
BUYER = {"mobile": "13966667777", "nickname": "Wen"}


@pytest.fixture(scope="module")
async def tenant_key(pool: asyncpg.Pool) -> str:
    """A tenant with one paid JD order placed at 14:00 China time (06:00 UTC) and one shipped Youzan order."""
    tenant, key = await new_tenant(pool, "vocabulary")
    when = datetime(2026, 3, 1, 14, 0, tzinfo=EAST)
    await ingest(
        pool,
        message(
            tenant,
            "V1",
            source="jingdong",
            status="paid",
            status_raw="已付款",
            order_time=when,
            buyer=BUYER,
            payment_time=when + timedelta(minutes=5),
        ),
        message(tenant, "V2", source="youzan", status="shipped", order_time=when + timedelta(hours=1), buyer=BUYER),
    )
    return key


@pytest.mark.parametrize("written", ["已付款", "Paid", "paid", " PAID "])
async def test_every_spelling_of_paid_finds_the_paid_order(
    written: str, tenant_key: str, client_for: ClientFor
) -> None:
    answer = await client_for(tenant_key).get("/v1/orders", params={"status": written})
    assert answer.status_code == 200, answer.text
    [item] = answer.json()["items"]
    assert (item["order_no"], item["status"], item["status_label"]) == ("V1", "paid", "已付款")


@pytest.mark.parametrize("written", ["JD", "京东", "jingdong", "jd", "Jingdong"])
async def test_every_spelling_of_jd_finds_the_jd_order(written: str, tenant_key: str, client_for: ClientFor) -> None:
    answer = await client_for(tenant_key).get("/v1/orders", params={"source": written})
    [item] = answer.json()["items"]
    assert (item["order_no"], item["source"], item["source_label"]) == ("V1", "jingdong", "京东")


@pytest.mark.parametrize(
    ("params", "headers", "labels"),
    [
        ({}, {}, ("已付款", "京东")),
        ({}, {"Accept-Language": "en-US,en;q=0.9"}, ("Paid", "Jingdong")),
        ({"lang": "en"}, {"Accept-Language": "zh-CN"}, ("Paid", "Jingdong")),
        ({"lang": "zh"}, {"Accept-Language": "en"}, ("已付款", "京东")),
    ],
)
async def test_labels_follow_the_request_language_and_the_query_wins(
    params: dict[str, str], headers: dict[str, str], labels: tuple[str, str], tenant_key: str, client_for: ClientFor
) -> None:
    answer = await client_for(tenant_key).get("/v1/orders", params={"order_no": "V1", **params}, headers=headers)
    [item] = answer.json()["items"]
    assert (item["status_label"], item["source_label"]) == labels
    detail = (await client_for(tenant_key).get("/v1/orders/V1", params=params, headers=headers)).json()
    assert (detail["status_label"], detail["source_label"]) == labels


async def test_an_unknown_language_is_a_422(tenant_key: str, client_for: ClientFor) -> None:
    answer = await client_for(tenant_key).get("/v1/orders", params={"lang": "fr"})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"


def _times(document: Any) -> list[str]:
    """Every value of a `*_time` / `*_at` field, anywhere in the document."""
    found: list[str] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, str) and (key.endswith("_time") or key.endswith("_at")):
                found.append(value)
            else:
                found += _times(value)
    elif isinstance(document, list):
        for value in document:
            found += _times(value)
    return found


async def test_rest_order_times_are_utc_with_z(tenant_key: str, client_for: ClientFor) -> None:
    client = client_for(tenant_key)
    [item] = (await client.get("/v1/orders", params={"order_no": "V1"})).json()["items"]
    assert (item["order_time"], item["payment_time"]) == ("2026-03-01T06:00:00Z", "2026-03-01T06:05:00Z")
    detail = (await client.get("/v1/orders/V1")).json()
    times = _times(detail)
    assert len(times) >= 5 and all(t.endswith("Z") for t in times), times


async def test_persona_is_typed_and_its_times_are_utc_with_z(tenant_key: str, client_for: ClientFor) -> None:
    client = client_for(tenant_key)
    body = (await client.get("/v1/customers", params={"mobile": "139 6666 7777"})).json()
    persona = PersonaV1.model_validate(body["persona"])
    assert (persona.order_count, persona.lifecycle_stage, persona.sources) == (2, "dormant", ["jingdong", "youzan"])
    assert body["persona"]["first_order_time"] == "2026-03-01T06:00:00Z"
    assert all(t.endswith("Z") for t in _times(body)), _times(body)
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert schema["PersonaV1"]["additionalProperties"] is False
    assert "PersonaV1" in json.dumps(schema["CustomerOut"]["properties"]["persona"])
    assert '"additionalProperties": true' not in json.dumps([schema["PersonaV1"], schema["TopProductV1"]])
