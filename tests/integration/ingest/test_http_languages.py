"""The import API in Chinese (the default) and English: the template, messages, outcome labels and the result
workbook follow `?lang=` / `Accept-Language`; a template of either language, filled in, uploads."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from services.ingest.domain.spreadsheet.template import COLUMNS
from tests.integration.ingest.test_http_imports import XLSX, api_key, app, client, finished, settings

__all__ = ["api_key", "app", "client", "settings"]

ORDER: dict[str, dict[str, str]] = {  # one order as each language's template spells it
    "zh": {"source": "京东", "status": "已付款"},
    "en": {"source": "JD", "status": "Paid"},
}
COMMON = {
    "order_time": "2026-11-30 14:00:00",
    "store_no": "S1",
    "product_id": "P1",
    "quantity": "2",
    "unit_price": "10.00",
    "buyer_mobile": "13912345678",
}


async def _template(client: httpx.AsyncClient, key: str, **request: Any) -> Any:
    headers = {"X-API-Key": key, **request.pop("headers", {})}
    answer = await client.get("/v1/imports/template.xlsx", headers=headers, **request)
    assert answer.status_code == 200 and answer.headers["content-type"] == XLSX
    return load_workbook(io.BytesIO(answer.content))


def _filled(book: Any, order_no: str, lang: str, **changes: str) -> bytes:
    """The template with its example row replaced by one order written in `lang`'s labels."""
    sheet = book.worksheets[0]
    sheet.delete_rows(2)
    values = {"order_no": order_no, **COMMON, **ORDER[lang], **changes}
    for col, column in enumerate(COLUMNS, 1):
        sheet.cell(row=2, column=col, value=values.get(column.key))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _upload(client: httpx.AsyncClient, key: str, content: bytes, **request: Any) -> httpx.Response:
    headers = {"X-API-Key": key, **request.pop("headers", {})}
    files = {"file": ("orders.xlsx", content, XLSX)}
    return await client.post("/v1/imports", headers=headers, files=files, **request)


@pytest.mark.parametrize(
    ("request_", "lang", "first_header"),
    [
        ({}, "zh", "订单编号*"),
        ({"headers": {"Accept-Language": "en-US"}}, "en", "Order No.*"),
        ({"params": {"lang": "en"}}, "en", "Order No.*"),
    ],
)
async def test_a_template_of_either_language_filled_in_uploads(
    request_: dict[str, Any], lang: str, first_header: str, client: httpx.AsyncClient, api_key: str
) -> None:
    book = await _template(client, api_key, **request_)
    assert book.worksheets[0]["A1"].value == first_header
    answer = await _upload(client, api_key, _filled(book, f"L-{lang}", lang), **request_)
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert (receipt["valid_rows"], receipt["invalid_rows"], receipt["orders"]) == (1, 0, 1)
    status = await finished(client, api_key, receipt["import_id"])
    assert (status["state"], status["created"]) == ("completed", 1)
    orders = (await client.get("/v1/orders", headers={"X-API-Key": api_key}, params={"lang": lang})).json()
    [order] = orders["items"]
    assert (order["source"], order["status"]) == ("jingdong", "paid")
    assert (order["source_label"], order["status_label"]) == (
        ("京东", "已付款") if lang == "zh" else ("Jingdong", "Paid")
    )


async def test_messages_outcomes_and_the_result_workbook_follow_the_language(
    client: httpx.AsyncClient, api_key: str
) -> None:
    data = _filled(await _template(client, api_key), "BAD-1", "zh", quantity="0")
    answer = await _upload(client, api_key, data)
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    [error] = receipt["first_errors"]
    assert error["code"] == "not_positive" and error["message"] == (
        "第 2 行，“数量”列：“0”不是正数；应为1 到 1,000,000 之间的整数。"
    )
    assert receipt["state_label"] == "已完成（有错误）"
    base = f"/v1/imports/{receipt['import_id']}"
    zh = (await client.get(base, headers={"X-API-Key": api_key})).json()
    en = (await client.get(base, headers={"X-API-Key": api_key, "Accept-Language": "en"})).json()
    assert zh["first_errors"][0]["message"].startswith("第 2 行") and en["first_errors"][0]["message"].startswith(
        'Row 2, column "数量": "0" is not positive'
    )
    held = {o["code"]: o for o in zh["outcomes"]}["held_back"]
    assert held["count"] == 1 and held["label"].startswith("暂缓")
    assert {o["code"]: o["label"] for o in en["outcomes"]}["stale_status"] == "stale status (not applied)"

    for request_, headers in (
        ({}, ["导入结果", "错误信息", "警告信息"]),
        ({"params": {"lang": "en"}}, ["Result", "Errors", "Warnings"]),
    ):
        book = await client.get(f"{base}/result.xlsx", headers={"X-API-Key": api_key}, **request_)
        sheet = load_workbook(io.BytesIO(book.content)).active
        header = [c.value for c in sheet[1]]
        assert header[-3:] == headers
        row = [c.value for c in sheet[2]]
        assert row[len(header) - 3] == ("有错误" if headers[0] == "导入结果" else "invalid")
        assert ("不是正数" if headers[0] == "导入结果" else "is not positive") in row[len(header) - 2]


async def test_a_refused_file_and_a_dry_run_speak_the_request_language(client: httpx.AsyncClient, api_key: str) -> None:
    data = _filled(await _template(client, api_key), "BAD-2", "zh", quantity="0")
    strict = await _upload(client, api_key, data, data={"mode": "strict"})
    assert strict.status_code == 422 and strict.json()["code"] == "strict_mode_rejected"
    assert strict.json()["detail"].startswith("严格模式：1 行共有 1 个错误；未导入任何内容。该导入已记录为失败：")
    strict_en = await _upload(client, api_key, data, data={"mode": "strict"}, params={"lang": "en"})
    assert strict_en.json()["detail"].startswith("Strict mode: 1 rows have 1 errors")
    good = _filled(await _template(client, api_key), "DRY-1", "zh")
    dry = (await _upload(client, api_key, good, data={"dry_run": "true"})).json()
    [planned] = dry["orders"]
    assert (planned["outcome"], planned["outcome_label"], planned["detail"]) == ("created", "新建", "1 个商品行")
