"""The import API end to end on the real broker and database: upload -> Kafka -> consumer -> completed."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from openpyxl import load_workbook

from services.ingest.adapters.tenants import create_tenant
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from tests.support.api import api_with_consumer, own_topics
from tests.support.waiting import eventually
from tools.samples import SAMPLE_HEADER, sample_rows, write_sample_xlsx

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def settings(connection_settings: ConnectionSettings) -> IngestSettings:
    return own_topics(connection_settings)


@pytest.fixture(scope="module")
def app(settings: IngestSettings) -> FastAPI:
    return create_app(settings)


@pytest.fixture(scope="module")
async def client(app: FastAPI, settings: IngestSettings, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The real app (its lifespan starts the producer) and a consumer of the same topics, in this process."""
    async with api_with_consumer(app, settings, pool) as http:
        yield http


@pytest.fixture
async def api_key(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        _, key = await create_tenant(conn, "http tenant")
    return key


def sample_file(tmp_path: Path, orders: int, seed: int = 1) -> bytes:
    path = tmp_path / "orders.xlsx"
    write_sample_xlsx(path, sample_rows(orders, 2, seed=seed))
    return path.read_bytes()


async def upload(client: httpx.AsyncClient, key: str, data: bytes, **form: str) -> httpx.Response:
    return await client.post(
        "/v1/imports", headers={"X-API-Key": key}, files={"file": ("orders.xlsx", data, XLSX)}, data=form
    )


async def finished(client: httpx.AsyncClient, key: str, import_id: str) -> dict[str, Any]:
    async def status() -> dict[str, Any]:
        answer = await client.get(f"/v1/imports/{import_id}", headers={"X-API-Key": key})
        return answer.json()  # type: ignore[no-any-return]

    return await eventually(status, lambda s: s["state"] in {"completed", "completed_with_errors", "failed"}, within=60)


async def test_upload_completes_and_the_same_file_again_is_unchanged(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    data = sample_file(tmp_path, 50)
    answer = await upload(client, api_key, data)
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert (receipt["rows"], receipt["valid_rows"], receipt["invalid_rows"], receipt["orders"]) == (100, 100, 0, 50)
    status = await finished(client, api_key, receipt["import_id"])
    assert status["state"] == "completed"
    assert (status["orders_processed"], status["created"], status["dead_lettered"]) == (50, 50, 0)
    lines = await pool.fetchval(
        "SELECT count(*) FROM order_lines l JOIN orders o USING (tenant_id, order_no) WHERE o.last_import_id = $1",
        uuid.UUID(receipt["import_id"]),
    )
    assert lines == 100

    again = await finished(client, api_key, (await upload(client, api_key, data)).json()["import_id"])
    assert (again["state"], again["unchanged"], again["created"], again["updated"]) == ("completed", 50, 0, 0)

    book = await client.get(
        f"/v1/imports/{receipt['import_id']}/result.xlsx", params={"lang": "en"}, headers={"X-API-Key": api_key}
    )
    assert book.status_code == 200 and book.headers["content-type"] == XLSX
    sheet = load_workbook(io.BytesIO(book.content)).active
    header = [c.value for c in sheet[1]]
    results = [row[header.index("Result")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert results == ["created"] * 100


async def test_invalid_rows_are_reported_and_their_orders_held_back(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    rows = [list(r) for r in sample_rows(3, 2, seed=7)]
    rows[1][2] = "Teleported"  # an unknown status on the 2nd line of the first order
    path = tmp_path / "bad.xlsx"
    write_sample_xlsx(path, [tuple(r) for r in rows])
    receipt = (await upload(client, api_key, path.read_bytes())).json()
    assert (receipt["invalid_rows"], receipt["orders"], receipt["orders_held_back"]) == (1, 2, 1)
    (error,) = receipt["first_errors"]
    assert error["row"] == 3 and error["code"] == "invalid_status" and error["value"] == "Teleported"
    status = await finished(client, api_key, receipt["import_id"])
    assert (status["state"], status["created"]) == ("completed_with_errors", 2)

    strict = await upload(client, api_key, path.read_bytes(), mode="strict")
    assert strict.status_code == 422
    assert strict.headers["content-type"] == "application/problem+json"
    assert strict.json()["code"] == "strict_mode_rejected"


async def test_dry_run_plans_without_writing(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    data = sample_file(tmp_path, 5, seed=3)
    plan = (await upload(client, api_key, data, dry_run="true")).json()
    assert [o["outcome"] for o in plan["orders"]] == ["created"] * 5
    assert all(o["customer_is_new"] for o in plan["orders"])
    listed = (await client.get("/v1/imports", headers={"X-API-Key": api_key})).json()["items"]
    assert listed == []  # nothing recorded
    await finished(client, api_key, (await upload(client, api_key, data)).json()["import_id"])
    replan = (await upload(client, api_key, data, dry_run="true")).json()
    assert [o["outcome"] for o in replan["orders"]] == ["unchanged"] * 5
    assert {o["matched_by"] for o in replan["orders"]} == {"mobile"}


async def test_whole_file_problems_are_4xx_problems(client: httpx.AsyncClient, api_key: str) -> None:
    for data, code in [(b"", "empty_file"), (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "corrupt_workbook")]:
        answer = await upload(client, api_key, data)
        assert answer.status_code == 400 and answer.json()["code"] == code, answer.text
    zone = await upload(client, api_key, b"a,b\n1,2\n", timezone="Mars/Olympus")
    assert zone.status_code == 422 and zone.json()["code"] == "unknown_timezone"


async def test_keys_and_tenants(client: httpx.AsyncClient, api_key: str, pool: asyncpg.Pool, tmp_path: Path) -> None:
    for headers in ({}, {"X-API-Key": "oik_wrong"}, {"X-API-Key": "x" * 5000}):
        answer = await client.get("/v1/imports", headers=headers)
        assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"
    receipt = (await upload(client, api_key, sample_file(tmp_path, 2, seed=9))).json()
    async with pool.acquire() as conn:
        _, other = await create_tenant(conn, "other")
    assert (await client.get(f"/v1/imports/{receipt['import_id']}", headers={"X-API-Key": other})).status_code == 404
    template = await client.get("/v1/imports/template.xlsx", headers={"X-API-Key": api_key})
    assert template.status_code == 200 and template.content[:2] == b"PK"


@contextlib.asynccontextmanager
async def producer_limited_to(app: FastAPI, settings: IngestSettings, max_request_size: int) -> AsyncIterator[None]:
    """The app publishes through a real producer whose request limit is `max_request_size` bytes (what made
    a large order fail in the middle of an upload, while the orders around it were sent)."""
    small = KafkaBroker(settings.kafka_bootstrap_servers, max_request_size=max_request_size, enable_idempotence=True)
    await small.start()
    original, app.state.broker = app.state.broker, small
    try:
        yield
    finally:
        app.state.broker = original
        await small.stop()


async def test_an_upload_that_cannot_publish_every_order_is_failed_naming_what_was_published(
    app: FastAPI, settings: IngestSettings, client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    rows = [list(r) for r in sample_rows(3, 20, seed=12)]
    name = SAMPLE_HEADER.index("Product Name")
    for line in rows[20:40]:  # the middle order: ~20 KB of product names, over the producer's 8 KB
        line[name] = "N" * 255
    path = tmp_path / "three.xlsx"
    write_sample_xlsx(path, [tuple(r) for r in rows])
    order_nos = [str(rows[i][0]) for i in (0, 20, 40)]
    async with producer_limited_to(app, settings, 8 * 1024):
        answer = await upload(client, api_key, path.read_bytes())
    assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json", answer.text
    assert answer.headers["retry-after"].isdigit()
    problem = answer.json()
    assert problem["code"] == "publishing_failed"
    (failure,) = problem["errors"]
    assert (failure["orders_published"], failure["orders"]) == (2, 3)
    assert f'not published ("{order_nos[1]}")' in problem["detail"]
    assert f'("{order_nos[0]}", "{order_nos[2]}")' in problem["detail"]
    import_id, key = failure["import_id"], api_key

    async def status() -> dict[str, Any]:
        answer = await client.get(f"/v1/imports/{import_id}", headers={"X-API-Key": key})
        return answer.json()  # type: ignore[no-any-return]

    landed = await eventually(status, lambda s: s["orders_processed"] == 2, within=60)
    assert (landed["state"], landed["orders_published"], landed["created"]) == ("failed", 2, 2)
    assert landed["failure"] is not None and order_nos[1] in landed["failure"]
    stored = await pool.fetch("SELECT order_no FROM orders WHERE last_import_id = $1", uuid.UUID(import_id))
    assert sorted(r["order_no"] for r in stored) == sorted([order_nos[0], order_nos[2]])
    book = await client.get(f"/v1/imports/{import_id}/result.xlsx", headers={"X-API-Key": key, "Accept-Language": "en"})
    sheet = load_workbook(io.BytesIO(book.content)).active
    header = [c.value for c in sheet[1]]
    results = [row[header.index("Result")] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert results == ["created"] * 20 + ["not published"] * 20 + ["created"] * 20


async def test_an_order_of_thousands_of_long_lines_is_refused_whole_and_the_others_land(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, pool: asyncpg.Pool
) -> None:
    """Finding 3: one valid-looking order of 4,500 lines with long names used to answer 500 after the orders before
    it were published. Now its rows are errors naming it, found before anything is published."""
    small = [list(r) for r in sample_rows(4, 2, seed=31)]
    big = [list(r) for r in sample_rows(1, 4500, seed=32)]
    name = SAMPLE_HEADER.index("Product Name")
    for line in big:
        line[name] = "长" * 255
    path = tmp_path / "big.xlsx"
    write_sample_xlsx(path, [tuple(r) for r in [*small[:6], *big, *small[6:]]])
    answer = await upload(client, api_key, path.read_bytes())
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert (receipt["invalid_rows"], receipt["orders"], receipt["orders_held_back"]) == (4500, 4, 1)
    (code,) = {e["code"] for e in receipt["first_errors"]}
    assert code == "too_many_lines" and str(big[0][0]) in receipt["first_errors"][0]["message"]
    status = await finished(client, api_key, receipt["import_id"])
    assert (status["state"], status["orders_published"], status["created"]) == ("completed_with_errors", 4, 4)
    stored = await pool.fetchval(
        "SELECT count(*) FROM orders WHERE last_import_id = $1", uuid.UUID(receipt["import_id"])
    )
    assert stored == 4


async def test_a_message_over_the_bound_refuses_the_upload_and_leaves_nothing_recorded(
    client: httpx.AsyncClient, tmp_path: Path, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job and its rows are written while the messages are encoded; the last order's message, over the bound,
    rolls them back: the refusal comes before anything is recorded or published, as the dry run predicts."""
    from services.core import bounds

    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, "too large")
    rows = [*sample_rows(300, 2, seed=41), *sample_rows(1, 100, seed=42)]
    path = tmp_path / "large.xlsx"
    write_sample_xlsx(path, rows)
    monkeypatch.setattr(bounds, "MAX_MESSAGE_BYTES", 8_000)  # an order of 2 lines fits, one of 100 does not
    dry = await upload(client, key, path.read_bytes(), dry_run="true")
    answer = await upload(client, key, path.read_bytes())
    assert answer.status_code == dry.status_code == 422, answer.text
    assert answer.json()["code"] == dry.json()["code"] == "order_too_large", answer.text
    assert str(rows[-1][0]) in answer.json()["detail"]
    for table in ("imports", "import_rows"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant.id) == 0, table
    monkeypatch.undo()  # the same file within the bound goes through: the refusal was the message's size alone
    accepted = await upload(client, key, path.read_bytes())
    assert accepted.status_code == 202, accepted.text
    assert (await finished(client, key, accepted.json()["import_id"]))["created"] == 301


async def test_a_finished_imports_result_and_the_template_are_built_once(
    client: httpx.AsyncClient, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.ingest.adapters import spreadsheet_writer as spreadsheets

    receipt = (await upload(client, api_key, sample_file(tmp_path, 2, seed=5))).json()
    await finished(client, api_key, receipt["import_id"])
    builds: list[str] = []
    for name in ("build_result_workbook", "build_template"):
        real = getattr(spreadsheets, name)
        monkeypatch.setattr(spreadsheets, name, lambda *a, _real=real, _name=name: builds.append(_name) or _real(*a))
    headers = {"X-API-Key": api_key}
    books = [await client.get(f"/v1/imports/{receipt['import_id']}/result.xlsx", headers=headers) for _ in range(3)]
    templates = [await client.get("/v1/imports/template.xlsx", headers=headers) for _ in range(3)]
    assert {b.status_code for b in books + templates} == {200}
    assert len({b.content for b in books}) == 1 and len({t.content for t in templates}) == 1
    assert builds.count("build_result_workbook") == 1 and builds.count("build_template") <= 1, builds


async def test_a_console_confirmation_that_cannot_publish_every_order_shows_the_failed_import(
    app: FastAPI, settings: IngestSettings, client: httpx.AsyncClient, api_key: str, tmp_path: Path
) -> None:
    """The imports page showed the REST API's English detail ("publishing failed: 1 of 3 orders ...") to a person
    reading Chinese, and no way to the import it had recorded as failed."""
    import re

    rows = [list(r) for r in sample_rows(3, 20, seed=13)]
    name = SAMPLE_HEADER.index("Product Name")
    for line in rows[20:40]:
        line[name] = "N" * 255
    path = tmp_path / "three.xlsx"
    write_sample_xlsx(path, [tuple(r) for r in rows])

    def csrf(page: httpx.Response) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None, page.text[:300]
        return found[1]

    client.cookies.clear()
    try:
        signed = await client.post(
            "/console/sign-in", data={"csrf": csrf(await client.get("/console/sign-in")), "api_key": api_key}
        )
        assert signed.status_code == 303
        files = {"file": ("three.xlsx", path.read_bytes(), XLSX)}
        preview = await client.post(
            "/console/imports/preview", files=files, data={"csrf": csrf(await client.get("/console/imports"))}
        )
        token = re.search(r'name="token" value="([^"]+)"', preview.text)
        assert preview.status_code == 200 and token is not None, preview.text[:300]
        async with producer_limited_to(app, settings, 8 * 1024):
            answer = await client.post("/console/imports/confirm", data={"csrf": csrf(preview), "token": token[1]})
        problem = re.search(r'class="error" role="alert">([^<]*)<', answer.text)
        assert answer.status_code == 503 and problem is not None, answer.text[:300]
        assert "未能全部发送" in problem[1] and 'id="result-link"' in answer.text, problem[1]
    finally:
        client.cookies.clear()


TAOBAO_CSV = (
    "订单编号,订单来源,订单状态,下单时间,付款时间,店铺编号,商品ID,数量,单价,买家昵称\n"
    "TB-1,淘宝,等待买家付款,2026-11-30 10:00:00,,S1,P1,1,10.00,tb_buyer\n"
    'TB-2,淘宝,"买家已付款，等待卖家发货",2026-11-30 10:01:00,2026-11-30 10:02:00,S1,P1,2,10.00,tb_buyer\n'
    'TB-2,淘宝,"买家已付款，等待卖家发货",2026-11-30 10:01:00,2026-11-30 10:02:00,S1,P2,1,5.00,tb_buyer\n'
    'TB-3,淘宝,"卖家已发货,等待买家确认",2026-11-30 10:03:00,2026-11-30 10:04:00,S1,P1,1,10.00,tb_buyer\n'
    "TB-4,天猫, 交易成功 ,2026-11-30 10:05:00,2026-11-30 10:06:00,S1,P1,1,10.00,tb_buyer\n"
    "TB-5,Tmall,交易关闭,2026-11-30 10:07:00,,S1,P1,1,10.00,tb_buyer\n"
    "TB-6,淘宝,退款中,2026-11-30 10:08:00,,S1,P1,1,10.00,tb_buyer\n"
)


async def test_a_taobao_export_with_its_own_statuses_and_tmall_lands_with_the_templates_words(
    client: httpx.AsyncClient, api_key: str, pool: asyncpg.Pool
) -> None:
    answer = await client.post(
        "/v1/imports",
        headers={"X-API-Key": api_key},
        files={"file": ("taobao.csv", TAOBAO_CSV.encode("utf-8-sig"), "text/csv")},
    )
    assert answer.status_code == 202, answer.text
    receipt = answer.json()
    assert (receipt["rows"], receipt["invalid_rows"], receipt["orders"]) == (7, 1, 5)
    (error,) = receipt["first_errors"]
    assert (error["row"], error["code"], error["value"]) == (8, "invalid_status", "退款中")
    status = await finished(client, api_key, receipt["import_id"])
    assert (status["state"], status["created"]) == ("completed_with_errors", 5)
    stored = await pool.fetch(
        "SELECT order_no, source, status, status_raw FROM orders WHERE last_import_id = $1 ORDER BY order_no",
        uuid.UUID(receipt["import_id"]),
    )
    assert [(r["order_no"], r["source"], r["status"]) for r in stored] == [
        ("TB-1", "taobao", "to_be_paid"),
        ("TB-2", "taobao", "paid"),
        ("TB-3", "taobao", "shipped"),
        ("TB-4", "taobao", "dealed"),
        ("TB-5", "taobao", "deal_closed"),
    ]
    assert stored[1]["status_raw"] == "买家已付款，等待卖家发货"
