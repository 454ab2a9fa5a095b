"""GET /v1/orders: every filter alone and in combination, compared with the catalogue filtered in Python."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from services.ingest.adapters import queries
from services.ingest.contracts.orders_ingest_v1 import OrderIngestV1
from tests.integration.query.conftest import BASE, Catalogue, ClientFor, all_pages, newest_first

Predicate = Callable[[OrderIngestV1, Catalogue], bool]


@dataclass(frozen=True)
class Case:
    name: str
    params: Callable[[Catalogue], dict[str, Any]]
    keep: Predicate


def _store_matches(order: OrderIngestV1, value: str) -> bool:
    return value in (order.store.store_no, order.store.store_id)


FROM, TO = BASE + timedelta(hours=3), BASE + timedelta(hours=12)

# One case per filter value; pairs and a triple of filter kinds are built from the first case of each kind.
SINGLE: dict[str, list[Case]] = {
    "order_no": [
        Case("order_no=AB109", lambda c: {"order_no": "AB109"}, lambda o, c: o.order_no == "AB109"),
        Case("order_no unknown", lambda c: {"order_no": "ZZ"}, lambda o, c: False),
    ],
    "prefix": [
        Case("prefix AB1", lambda c: {"order_no_prefix": "AB1"}, lambda o, c: o.order_no.startswith("AB1")),
        Case("prefix C", lambda c: {"order_no_prefix": "C"}, lambda o, c: o.order_no.startswith("C")),
    ],
    "status": [
        Case("status paid", lambda c: {"status": ["paid"]}, lambda o, c: o.status == "paid"),
        Case(
            "status paid|shipped|dealed",
            lambda c: {"status": ["paid", "shipped", "dealed"]},
            lambda o, c: o.status in ("paid", "shipped", "dealed"),
        ),
    ],
    "time": [
        Case(
            "from..to",
            lambda c: {"order_time_from": FROM.isoformat(), "order_time_to": TO.isoformat()},
            lambda o, c: FROM <= o.order_time < TO,
        ),
        Case("from", lambda c: {"order_time_from": TO.isoformat()}, lambda o, c: o.order_time >= TO),
        Case("to", lambda c: {"order_time_to": FROM.isoformat()}, lambda o, c: o.order_time < FROM),
    ],
    "store": [
        Case("store S1 (a no. and an ID)", lambda c: {"store": "S1"}, lambda o, c: _store_matches(o, "S1")),
        Case("store X9 (ID only)", lambda c: {"store": "X9"}, lambda o, c: _store_matches(o, "X9")),
        Case("store S2", lambda c: {"store": "S2"}, lambda o, c: _store_matches(o, "S2")),
    ],
    "source": [Case("source douyin", lambda c: {"source": "douyin"}, lambda o, c: o.source == "douyin")],
    "customer": [
        Case(
            "customer 2",
            lambda c: {"customer_id": str(c.customer_of_mobile["13900000002"])},
            lambda o, c: o.buyer.mobile == "13900000002",
        ),
    ],
}


def _combine(cases: tuple[Case, ...]) -> Case:
    def params(c: Catalogue) -> dict[str, Any]:
        return {k: v for case in cases for k, v in case.params(c).items()}

    return Case(" & ".join(case.name for case in cases), params, lambda o, c: all(x.keep(o, c) for x in cases))


CASES = [case for cases in SINGLE.values() for case in cases]
CASES += [_combine(pair) for pair in itertools.combinations([cases[0] for cases in SINGLE.values()], 2)]
CASES += [
    _combine((SINGLE["status"][1], SINGLE["store"][0], SINGLE["time"][0])),
    _combine((SINGLE["prefix"][0], SINGLE["source"][0], SINGLE["customer"][0], SINGLE["status"][1])),
    _combine((SINGLE["store"][0], SINGLE["status"][1], SINGLE["customer"][0])),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_filter_returns_exactly_the_matching_orders_newest_first(
    case: Case, catalogue: Catalogue, client_for: ClientFor
) -> None:
    expected = newest_first([o for o in catalogue.orders if case.keep(o, catalogue)])
    client = client_for(catalogue.key_a)
    answer = await client.get("/v1/orders", params={**case.params(catalogue), "limit": 200})
    assert answer.status_code == 200, answer.text
    assert [item["order_no"] for item in answer.json()["items"]] == expected
    assert answer.json()["next_cursor"] is None
    assert await all_pages(client, case.params(catalogue), limit=2) == expected


PREFIX_CASES = [c for c in CASES if "prefix" in c.name]


@pytest.mark.parametrize("walk", [1, 2, 5, 1000])
@pytest.mark.parametrize("case", PREFIX_CASES, ids=[c.name for c in PREFIX_CASES])
async def test_a_wide_prefix_lists_exactly_the_matching_orders_whatever_the_walk_finds(
    case: Case, walk: int, catalogue: Catalogue, client_for: ClientFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every prefix taken as wide (no member probe), with walks that find nothing, part of a page or all of it:
    the walk's matches and the older ones read from the prefix index make exactly the listing."""
    monkeypatch.setattr(queries, "PREFIX_PROBE_LIMIT", 0)
    monkeypatch.setattr(queries, "PREFIX_WALK", walk)
    expected = newest_first([o for o in catalogue.orders if case.keep(o, catalogue)])
    client = client_for(catalogue.key_a)
    for limit in (1, 2, 3, 200):
        assert await all_pages(client, case.params(catalogue), limit=limit) == expected


async def test_summary_fields(catalogue: Catalogue, client_for: ClientFor) -> None:
    order = catalogue.orders[9]
    answer = await client_for(catalogue.key_a).get("/v1/orders", params={"order_no": order.order_no})
    [item] = answer.json()["items"]
    assert item["source"] == order.source and item["status"] == order.status and item["status_raw"] == order.status
    assert item["store"] == {"store_no": "S1", "store_id": None, "name": "One"} == order.store.model_dump()
    assert item["customer_id"] == str(catalogue.customer_of(order))
    assert item["line_count"] == len(order.lines) and item["total_amount"] == "30.00"


async def test_default_listing_is_newest_first_with_ties_by_order_no(
    catalogue: Catalogue, client_for: ClientFor
) -> None:
    answer = await client_for(catalogue.key_a).get("/v1/orders")
    assert [i["order_no"] for i in answer.json()["items"]] == newest_first(catalogue.orders)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"order_time_from": "2026-03-01T09:00:00"}, 422),  # naive
        ({"order_time_to": "yesterday"}, 422),
        ({"status": "lost"}, 422),
        ({"source": "ebay"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 201}, 422),
        ({"customer_id": "not-a-uuid"}, 422),
        ({"order_no": "a\x00b"}, 422),
        ({"order_no": "  "}, 422),  # blank: it would match nothing
        ({"store": "\t"}, 422),
        ({"cursor": "not base64 !"}, 400),
        ({"cursor": "eyJ0IjoxfQ"}, 400),  # {"t":1}
        ({"cursor": "eyJ0IjoiMjAyNi0wMS0wMVQwMDowMDowMCIsIm4iOiJBIn0"}, 400),  # naive time
        ({"cursor": "W10"}, 400),  # []
    ],
)
async def test_invalid_parameters_are_problems(
    params: dict[str, Any], status: int, catalogue: Catalogue, client_for: ClientFor
) -> None:
    answer = await client_for(catalogue.key_a).get("/v1/orders", params=params)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["status"] == status


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ({"status": "已付款"}, {"status": "paid"}),
        ({"status": "Paid"}, {"status": "paid"}),
        ({"status": " PAID "}, {"status": "paid"}),
        ({"status": ["交易成功", "Deal Closed"]}, {"status": ["dealed", "deal_closed"]}),
        ({"source": "有赞"}, {"source": "youzan"}),
        ({"source": "Youzan"}, {"source": "youzan"}),
        ({"source": "JD"}, {"source": "jingdong"}),
        ({"order_no": " AB100 "}, {"order_no": "AB100"}),  # stored order nos and stores never hold them
        ({"order_no": "\u3000AB100\t"}, {"order_no": "AB100"}),
        ({"store": " S1 "}, {"store": "S1"}),
        ({"order_no_prefix": " AB1"}, {"order_no_prefix": "AB1"}),
    ],
)
async def test_filters_take_every_spelling_the_import_takes(
    written: dict[str, Any], code: dict[str, Any], catalogue: Catalogue, client_for: ClientFor
) -> None:
    client = client_for(catalogue.key_a)
    by_code = await client.get("/v1/orders", params={**code, "limit": 200})
    by_label = await client.get("/v1/orders", params={**written, "limit": 200})
    assert by_label.status_code == 200, by_label.text
    assert by_label.json()["items"] == by_code.json()["items"]


async def test_an_unknown_status_names_what_is_accepted(catalogue: Catalogue, client_for: ClientFor) -> None:
    answer = await client_for(catalogue.key_a).get("/v1/orders", params={"status": "Teleported"})
    assert answer.status_code == 422 and answer.json()["code"] == "unknown_status"
    assert "to_be_paid" in answer.json()["detail"] and "label of the import template" in answer.json()["detail"]
