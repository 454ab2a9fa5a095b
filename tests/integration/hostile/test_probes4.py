"""Probes, round 4 (helper atk4), on the real app: each test asserts the correct behaviour of a defect found by
sending the input, and stays as its regression test."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import asyncpg
import pytest

from tests.integration.hostile.conftest import Api, csv_bytes, upload
from tests.integration.hostile.test_console_inputs import signed_in
from tests.integration.push.conftest import pushed_order
from tests.integration.query.conftest import ingest
from tests.support.orders import SHANGHAI, message
from tools.samples import sample_rows

pytestmark = pytest.mark.integration


async def test_an_epoch_number_in_a_string_is_no_time_on_the_push_api_or_the_order_list(api: Api) -> None:
    # "1790000000" was read as epoch seconds (2026-09-21T14:13:20Z) and stored, though the contract says RFC 3339
    orders = [
        pushed_order("EPOCH-1") | {"order_time": "1790000000"},
        pushed_order("EPOCH-2") | {"payment_time": "1790000000000"},
    ]
    answer = await api.client.post("/v1/orders:batch", json={"orders": orders}, headers=api.headers())
    assert answer.status_code == 202, answer.text
    refused = answer.json()["orders"]
    assert [(o["outcome"], o["code"]) for o in refused] == [("rejected", "contract_violation")] * 2
    assert "order_time" in refused[0]["message"] and "not a date-time" in refused[0]["message"]
    assert "payment_time" in refused[1]["message"]
    listed = await api.client.get("/v1/orders", params={"order_time_from": "1790000000"}, headers=api.headers())
    assert listed.status_code == 422, listed.text
    assert listed.json()["errors"][0]["loc"] == ["query", "order_time_from"]


async def test_a_csv_refused_or_read_says_which_row_in_the_default_language(api: Api, tmp_path: Path) -> None:
    # zh is the default: every `unsupported_format` answered one sentence about pairing quotes, the row lost
    lines = csv_bytes(sample_rows(3, 1, seed=4), tmp_path).decode("utf-8-sig").splitlines()
    quoted = "\n".join([*lines[:3], lines[3] + ',"note']).encode()  # the last row opens a quote, never closed
    answer = await upload(api, "quote.csv", quoted, dry_run="true")
    assert answer.status_code == 400 and answer.json()["detail"].startswith("第 4 行：引号"), answer.text
    with_nul = "\n".join([*lines[:3], lines[3].replace("Flagship", "Flag\x00ship")]).encode()
    answer = await upload(api, "nul.csv", with_nul, dry_run="true")
    assert answer.status_code == 202, answer.text  # refused as binary ("pair your quotes"): now its row's error
    [error] = answer.json()["first_errors"]
    assert (error["row"], error["column"], error["code"]) == (4, "Store Name", "invalid_character")
    answer = await upload(api, "utf16.csv", "\n".join(lines).encode("utf-16-le"), dry_run="true")
    assert answer.status_code == 202 and answer.json()["valid_rows"] == 3, answer.text


async def test_an_unquoted_comma_in_a_csv_cell_is_its_rows_error_not_a_shifted_row(api: Api, tmp_path: Path) -> None:
    # The address `563 Nanjing Rd, Hangzhou` unquoted: " Hangzhou" was imported as the remark, the remark as the
    # channel note, and the last cell fell past the header, all without a word
    lines = csv_bytes(sample_rows(3, 1, seed=4), tmp_path).decode("utf-8-sig").splitlines()
    assert lines[2].count('"') == 2, lines[2]  # the address is the row's one quoted cell
    lines[2] = lines[2].replace('"', "")
    answer = await upload(api, "comma.csv", "\n".join(lines).encode(), dry_run="true")
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert [(e["row"], e["code"]) for e in body["first_errors"]] == [(3, "too_many_cells")], body
    assert "其后的每个单元格都右移一列" in body["first_errors"][0]["message"]
    assert (body["valid_rows"], body["orders_held_back"]) == (2, 1)


async def test_a_null_tenant_id_is_left_out_not_another_tenant(api: Api) -> None:
    # 403 tenant_mismatch for the whole push, though a null import_id or producer is taken as absent
    orders = [pushed_order("NULL-T") | {"tenant_id": None, "import_id": None, "producer": None}]
    answer = await api.client.post("/v1/orders:batch", json={"orders": orders}, headers=api.headers())
    assert answer.status_code == 202, answer.text
    assert answer.json()["orders"] == [{"index": 0, "order_no": "NULL-T", "outcome": "accepted"}]


async def test_an_integer_of_thousands_of_digits_refuses_its_order_not_the_whole_push(api: Api) -> None:
    # 422 for the whole push ("order 1: a number too long"): the valid orders beside it were refused too
    valid = json.dumps(pushed_order("LONG-1"))
    long = json.dumps(pushed_order("LONG-2"))[:-1] + ', "remark": ' + "9" * 5000 + "}"
    body = f'{{"orders": [{valid}, {long}]}}'
    answer = await api.client.post(
        "/v1/orders:batch", content=body, headers=api.headers() | {"content-type": "application/json"}
    )
    assert answer.status_code == 202, answer.text
    first, second = answer.json()["orders"]
    assert first == {"index": 0, "order_no": "LONG-1", "outcome": "accepted"}
    assert (second["index"], second["outcome"], second["code"]) == (1, "rejected", "contract_violation"), second
    assert "too many digits" in second["message"], second


@pytest.mark.parametrize("limit", ["0", "-1", "1000000000"])
async def test_the_import_lists_limit_out_of_range_is_a_422_not_quietly_clamped(api: Api, limit: str) -> None:
    # 0 and -1 answered one import, 10^9 two hundred, where the order list's limit answers a 422
    answer = await api.client.get("/v1/imports", params={"limit": limit}, headers=api.headers())
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_a_console_search_time_with_an_offset_keeps_its_offset(api: Api, pool: asyncpg.Pool) -> None:
    # from=2026-11-01T00:30+00:00 was read as 00:30 in the console's zone (Asia/Shanghai): eight hours off
    assert api.settings.default_timezone == "Asia/Shanghai"
    await ingest(pool, message(api.tenant_a, "ZONE-1", order_time=datetime(2026, 11, 1, 9, 0, tzinfo=SHANGHAI)))
    client = await signed_in(api)  # the order is at 01:00Z
    try:
        shown = [
            "/console/orders/ZONE-1" in (await client.get(f"/console/orders?order_no=ZONE-1&from={quote(text)}")).text
            for text in ("2026-11-01T00:30+00:00", "2026-11-01T01:30+00:00", "2026-11-01T08:30")
        ]
    finally:
        client.cookies.clear()
    assert shown == [True, False, True]


async def test_a_reversed_time_range_is_a_422_not_an_empty_list(api: Api) -> None:
    # from > to answered 200 with no orders, as if none matched; the export streamed an empty file
    reversed_range = {"order_time_from": "2026-11-02T00:00:00Z", "order_time_to": "2026-11-01T00:00:00Z"}
    for path in ("/v1/orders", "/v1/orders/export?format=csv"):
        answer = await api.client.get(path, params=reversed_range, headers=api.headers())
        assert answer.status_code == 422 and answer.json()["code"] == "invalid_time_range", answer.text
    empty = {"order_time_from": "2026-11-01T00:00:00Z", "order_time_to": "2026-11-01T00:00:00Z"}
    assert (await api.client.get("/v1/orders", params=empty, headers=api.headers())).status_code == 200


async def test_the_servers_own_zone_is_no_zone_an_upload_or_an_export_may_name(api: Api, tmp_path: Path) -> None:
    # timezone=localtime was accepted: the file's times were read in whatever zone the server runs in
    data = csv_bytes(sample_rows(1, 1, seed=4), tmp_path)
    answer = await upload(api, "zone.csv", data, dry_run="true", timezone="localtime")
    assert answer.status_code == 422 and answer.json()["code"] == "unknown_timezone", answer.text
    exported = await api.client.get(
        "/v1/orders/export", params={"format": "csv", "timezone": "localtime"}, headers=api.headers()
    )
    assert exported.status_code == 422 and exported.json()["code"] == "unknown_timezone", exported.text
    client = await signed_in(api)
    try:  # the console's form took any file of the zone database
        page = await client.get("/console/imports")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        files = {"file": ("zone.csv", data, "text/csv")}
        for zone in ("localtime", "posixrules"):
            preview = await client.post(
                "/console/imports/preview", files=files, data={"csrf": token[1], "timezone": zone}
            )
            assert preview.status_code == 422 and "时区无效" in preview.text, preview.text[:300]
    finally:
        client.cookies.clear()


async def test_an_order_nested_a_thousand_deep_refuses_only_itself(api: Api) -> None:
    # 422 for the whole push ("JSON nested too deeply"): Python's reader gives up near 1,000 levels
    deep = json.dumps(pushed_order("DEEP-2"))[:-1] + ', "remark": ' + "[" * 3000 + "]" * 3000 + "}"
    body = f'{{"orders": [{json.dumps(pushed_order("DEEP-1"))}, {deep}]}}'
    headers = api.headers() | {"content-type": "application/json"}
    answer = await api.client.post("/v1/orders:batch", content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    first, second = answer.json()["orders"]
    assert first == {"index": 0, "order_no": "DEEP-1", "outcome": "accepted"}
    assert (second["outcome"], second["code"]) == ("rejected", "invalid_json") and "nested" in second["message"]
