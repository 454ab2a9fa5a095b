"""The console's search fields and order pages take what the REST API refuses at its edge: NUL characters and
instants out of range. Each answered 500 (asyncpg: "date value out of range", "invalid byte sequence"); now the
order list names the field, an order page is a 404, as the REST API's 422 and 404 do."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from tests.integration.hostile.conftest import Api, csv_bytes, header_index, upload
from tools.samples import sample_rows


async def signed_in(api: Api) -> httpx.AsyncClient:
    api.client.cookies.clear()
    page = await api.client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    answer = await api.client.post("/console/sign-in", data={"csrf": token[1], "api_key": api.key_a})
    assert answer.status_code == 303, answer.text[:200]
    return api.client


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=0001-01-01T00:00", "from"),
        ("to=0001-01-01T00:00", "to"),
        ("from=9999-12-31T23:59", None),  # out of the stored range, but an instant: nothing matches
        ("order_no=A%00B", "order_no"),
        ("prefix=%00", "prefix"),
        ("store=S%00", "store"),
        ("cursor=%00", "cursor"),
    ],
)
async def test_the_order_list_names_a_search_field_it_cannot_use(api: Api, query: str, field: str | None) -> None:
    client = await signed_in(api)
    page = await client.get(f"/console/orders?{query}&lang=en")
    assert page.status_code == 200, page.text[:300]
    problem = re.search(r'id="search-problem">([^<]*)<', page.text)
    assert (problem is not None) == (field is not None), page.text[:300]
    client.cookies.clear()


@pytest.mark.parametrize("order_no", ["A\x00B", "x" * 10_000])
async def test_an_order_page_for_a_number_no_order_can_have_is_a_404(api: Api, order_no: str) -> None:
    client = await signed_in(api)
    page = await client.get(f"/console/orders/{quote(order_no, safe='')}")
    assert page.status_code == 404, page.text[:300]
    client.cookies.clear()


@pytest.mark.parametrize(
    ("query", "zh", "en"),
    [
        ("from=2026-11-30T14:00&to=2026-11-01T00:00", "请交换两个时间", "swap the two times"),
        ("cursor=eyJ0IjoieCJ9", "翻页链接已失效", "no longer valid"),  # base64 of {"t":"x"}: a forged cursor
    ],
)
async def test_a_search_the_api_refuses_is_worded_in_the_readers_language(
    api: Api, query: str, zh: str, en: str
) -> None:
    """Chinese first: what the REST API words in English (a reversed range, a forged cursor) the console says in
    the reader's language."""
    client = await signed_in(api)
    for lang, expected in (("zh", zh), ("en", en)):
        page = await client.get(f"/console/orders?{query}&lang={lang}")
        problem = re.search(r'id="search-problem">([^<]*)<', page.text)
        assert page.status_code == 200 and problem is not None, page.text[:300]
        assert expected in html.unescape(problem[1]), (lang, problem[1])
    client.cookies.clear()


@pytest.mark.parametrize(
    ("by", "value", "zh", "en"),
    [
        ("unionid", "A\x00B", "微信 UnionID 最多 64 个字符", "A WeChat UnionID has at most 64 characters"),
        ("sobot_customer_id", "S\x00", "智齿客户 ID 最多 64 个字符", "A Sobot customer ID has at most 64 characters"),
        ("unionid", "u" * 65, "微信 UnionID 最多 64 个字符", "A WeChat UnionID has at most 64 characters"),
        ("mobile", "abc", "手机号无效", "not a mainland mobile number"),
        ("mobile", "1\x00", "手机号无效", "not a mainland mobile number"),
    ],
)
async def test_a_customer_lookup_names_an_identifier_it_cannot_use_in_the_readers_language(
    api: Api, by: str, value: str, zh: str, en: str
) -> None:
    """A NUL in a unionid or Sobot ID answered 500 (PostgreSQL text cannot hold it); an invalid mobile was the REST
    API's English detail on the Chinese page."""
    client = await signed_in(api)
    for lang, expected in (("zh", zh), ("en", en)):
        page = await client.get("/console/customers", params={"by": by, "value": value, "lang": lang})
        problem = re.search(r'class="error" role="alert">([^<]*)<', page.text)
        assert page.status_code == 200 and problem is not None, page.text[:300]
        assert expected in html.unescape(problem[1]), (lang, problem[1])
    client.cookies.clear()


async def test_an_upload_beyond_the_tenants_share_is_a_console_page_in_the_readers_language(api: Api) -> None:
    """A second upload while the tenant's share was in flight (a double click, two tabs) answered the REST API's
    JSON problem in English instead of the imports page."""
    client = await signed_in(api)
    slots = api.app.state.upload_slots
    taken = 0
    try:
        while slots.by_tenant[api.tenant_a] < slots.share:
            slots.take(api.tenant_a)
            taken += 1
        page = await client.get("/console/imports")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        files = {"file": ("busy.csv", b"a,b\n1,2\n", "text/csv")}
        for lang, expected in (("zh", "请稍后重试"), ("en", "try again in a few seconds")):
            answer = await client.post(f"/console/imports/preview?lang={lang}", files=files, data={"csrf": token[1]})
            problem = re.search(r'class="error" role="alert">(.*?)</div>', answer.text, re.S)
            assert answer.status_code == 429 and problem is not None, answer.text[:300]
            assert expected in html.unescape(problem[1]), (lang, problem[1])
    finally:
        for _ in range(taken):
            slots.give_back(api.tenant_a)
        client.cookies.clear()


@pytest.mark.parametrize(
    ("method", "path", "status", "zh"),
    [
        ("GET", "/console/no-such-page", 404, "未找到"),
        ("GET", "/console/sign-out", 405, "请使用页面上的按钮或链接"),  # a sign-out link opened in a new tab
        ("GET", "/console/imports/confirm", 404, "未找到"),  # a bookmarked confirmation
        ("DELETE", "/console/orders", 405, "请使用页面上的按钮或链接"),
    ],
)
async def test_an_address_or_method_the_console_does_not_have_is_a_console_page(
    api: Api, method: str, path: str, status: int, zh: str
) -> None:
    """They answered the REST API's JSON problem in English ({"title": "Not Found"}, "Method Not Allowed")."""
    client = await signed_in(api)
    answer = await client.request(method, path)
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/html"), answer.text[:300]
    assert zh in answer.text and "Content-Security-Policy" in answer.headers, answer.text[:300]
    client.cookies.clear()


async def test_a_form_body_the_console_cannot_read_is_a_console_page(api: Api) -> None:
    client = await signed_in(api)
    headers = {"content-type": "multipart/form-data; boundary=x"}
    answer = await client.post("/console/imports/preview", content=b"not multipart", headers=headers)
    assert answer.status_code == 400 and "重新提交表单" in answer.text, answer.text[:300]
    client.cookies.clear()


async def test_an_address_of_the_api_still_answers_a_problem(api: Api) -> None:
    answer = await api.client.get("/v1/no-such-thing", headers=api.headers())
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"


async def test_signing_out_ends_the_session_for_a_copy_of_its_cookie_too(api: Api) -> None:
    client = await signed_in(api)
    copied = client.cookies.get("oi_session")
    page = await client.get("/console/orders")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None and copied
    assert (await client.post("/console/sign-out", data={"csrf": token[1]})).status_code == 303
    client.cookies.clear()
    client.cookies.set("oi_session", copied)
    answer = await client.get("/console/orders")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in?ended=1", answer.text[:200]
    client.cookies.clear()


async def test_every_console_cookie_is_httponly_and_strict(api: Api) -> None:
    # the language cookie was readable by any script on the page (no HttpOnly); no script of the console reads it
    api.client.cookies.clear()
    answer = await api.client.get("/console/sign-in?lang=en")
    cookies = answer.headers.get_list("set-cookie")
    assert {c.split("=")[0] for c in cookies} == {"oi_session", "oi_lang"}, cookies
    for cookie in cookies:
        flags = cookie.lower()
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags, cookie
    api.client.cookies.clear()


async def test_an_unexpected_error_is_a_console_page_without_its_details(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It answered the REST API's JSON problem in English ({"title": "Internal error"}) to a person reading Chinese."""
    from services.ingest.application import orders

    async def broken(*_: object) -> None:
        raise RuntimeError("secret detail of the failure")

    client = await signed_in(api)
    monkeypatch.setattr(orders, "order_detail", broken)
    answer = await client.get("/console/orders/ANY-1")
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("text/html"), answer.text[:300]
    assert "出错了" in answer.text and "secret detail" not in answer.text, answer.text[:300]
    monkeypatch.undo()
    api_answer = await api.client.get("/v1/orders/ANY-1", headers=api.headers())
    assert api_answer.status_code == 404  # the API is untouched
    client.cookies.clear()


async def test_a_console_download_is_never_cached(api: Api, tmp_path: Path) -> None:
    """The result and failed-rows workbooks (buyers' mobiles, names, addresses) came without Cache-Control, so a
    browser or proxy could keep them after signing out; pages already said no-store."""
    data = csv_bytes(sample_rows(2, 1, seed=21), tmp_path)
    receipt = await upload(api, "cached.csv", data)
    assert receipt.status_code == 202, receipt.text
    import_id = receipt.json()["import_id"]
    client = await signed_in(api)
    for path in (f"/console/imports/{import_id}/result.xlsx", "/console/imports/template.xlsx"):
        answer = await client.get(path)
        assert answer.status_code == 200, answer.text[:200]
        assert answer.headers.get("cache-control") == "no-store", (path, dict(answer.headers))
        assert answer.headers.get("x-content-type-options") == "nosniff", path
    client.cookies.clear()


async def test_the_console_keeps_the_tenants_import_quota(api: Api, pool: asyncpg.Pool, tmp_path: Path) -> None:
    """POST /v1/imports refuses a tenant past its rows per hour (429 quota_exceeded); the console imported past it."""
    from services.ingest.adapters.tenants import TenantQuotas, create_tenant, set_quotas

    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, "hostile quota")
        await set_quotas(conn, tenant.id, TenantQuotas(import_rows_per_hour=1))
    data = csv_bytes(sample_rows(2, 1, seed=23), tmp_path)
    assert (await upload(api, "first.csv", data, key=key)).status_code == 202  # under the quota when it starts
    assert (await upload(api, "second.csv", data, key=key)).status_code == 429
    client = api.client
    client.cookies.clear()
    try:
        page = await client.get("/console/sign-in")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        assert (await client.post("/console/sign-in", data={"csrf": token[1], "api_key": key})).status_code == 303
        page = await client.get("/console/imports")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        files = {"file": ("third.csv", data, "text/csv")}
        answer = await client.post("/console/imports/preview", files=files, data={"csrf": token[1]})
        problem = re.search(r'class="error" role="alert">(.*?)</div>', answer.text, re.S)
        assert answer.status_code == 429 and problem is not None, answer.text[:300]
        assert "配额" in html.unescape(problem[1]), problem[1]
    finally:
        client.cookies.clear()


async def test_a_strict_preview_refused_names_each_row_and_column(api: Api, tmp_path: Path) -> None:
    """Strict mode said "1 行共有 1 个错误" and nothing else: not which row, which column, or what was expected,
    which the REST API's 422 lists in `errors`."""
    rows = [list(r) for r in sample_rows(3, 1, seed=31)]
    rows[1][header_index("Quantity")] = "abc"
    data = csv_bytes([tuple(r) for r in rows], tmp_path)
    client = await signed_in(api)
    page = await client.get("/console/imports")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    files = {"file": ("strict.csv", data, "text/csv")}
    for mode, status in (("strict", 422), ("partial", 200)):  # a partial preview lists them as it did
        answer = await client.post("/console/imports/preview", files=files, data={"csrf": token[1], "mode": mode})
        assert answer.status_code == status, answer.text[:300]
        table = re.search(r'<table id="errors">.*?</table>', answer.text, re.S)
        assert table is not None, (mode, answer.text[-2000:])
        cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(?:<code>)?([^<]*)", table[0])]
        assert cells[:3] == ["3", "Quantity", "abc"] and "第 3 行" in cells[3], (mode, cells)
    client.cookies.clear()


async def test_a_strict_preview_lists_its_first_errors_and_counts_the_rest(api: Api, tmp_path: Path) -> None:
    """A strict refusal's page listed every row error: 5,000 rows of 25 bad cells made a page of 125,000 table
    rows (tens of MB). It lists the first ERRORS_SHOWN and says how many there are in all."""
    from services.ingest.application.import_answers import ERRORS_LISTED as ERRORS_SHOWN

    rows = [list(r) for r in sample_rows(ERRORS_SHOWN + 30, 1, seed=32)]
    for row in rows[1:]:
        row[header_index("Quantity")] = "abc"
    data = csv_bytes([tuple(r) for r in rows], tmp_path)
    client = await signed_in(api)
    page = await client.get("/console/imports")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    files = {"file": ("many.csv", data, "text/csv")}
    answer = await client.post("/console/imports/preview", files=files, data={"csrf": token[1], "mode": "strict"})
    assert answer.status_code == 422, answer.text[:300]
    table = re.search(r'<table id="errors">.*?</table>', answer.text, re.S)
    assert table is not None and table[0].count("<tr>") == ERRORS_SHOWN + 1, answer.text[-2000:]  # + the header
    more = re.search(r'<p id="errors-more">([^<]*)<', answer.text)
    assert more is not None and f"共 {ERRORS_SHOWN + 29} 个错误" in html.unescape(more[1]), answer.text[-2000:]
    client.cookies.clear()


async def test_a_lapsed_session_is_told_why_it_must_sign_in_again(api: Api) -> None:
    """After 8 hours a page (or a form being sent) went to the sign-in page without a word: the operator could not
    tell a lapsed session from a fault."""
    from services.ingest.adapters.tenants import tenant_for_key
    from services.ingest.entrypoints.console.session import Session

    async with api.app.state.pool.acquire() as conn:
        tenant = await tenant_for_key(conn, api.key_a)
    assert tenant is not None
    signer = api.app.state.console.signer
    lapsed = signer.dump(Session("nonce-lapsed", int(time.time()) - 1, tenant.id, tenant.name, tenant.key_id))
    api.client.cookies.clear()
    api.client.cookies.set("oi_session", lapsed)
    answer = await api.client.get("/console/orders")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in?ended=1", answer.headers
    page = await api.client.get(answer.headers["location"])
    notice = re.search(r'id="session-ended"[^>]*>([^<]*)<', page.text)
    assert notice is not None and "请重新登录" in notice[1], page.text[:500]
    api.client.cookies.clear()
    first = await api.client.get("/console/orders")  # never signed in: no such notice
    assert first.headers["location"] == "/console/sign-in"
    api.client.cookies.clear()


@pytest.mark.parametrize("order_no", ["A#1", "B?2", "C%3", "订单 4"])
async def test_the_language_switch_keeps_an_order_no_with_url_characters(api: Api, order_no: str) -> None:
    """The switch link put the decoded path back: for order "A#1" it led to /console/orders/A (a 404) with a
    fragment, for "B?2" to order "B"."""
    client = await signed_in(api)
    quoted = quote(order_no, safe="")
    page = await client.get(f"/console/orders/{quoted}")
    switch = re.search(r'<a href="([^"]+)" id="lang-switch"', page.text)
    assert switch is not None, page.text[:300]
    assert html.unescape(switch[1]) == f"/console/orders/{quoted}?lang=en", switch[1]
    client.cookies.clear()


async def test_the_progress_poll_is_told_in_json_when_it_cannot_follow(api: Api) -> None:
    """status.json answered a 303 to the sign-in page (a lapsed session) or an HTML 404: the page's script, which
    reads JSON, kept polling every 2 s for ever without telling the operator anything."""
    client = await signed_in(api)
    missing = await client.get("/console/imports/00000000-0000-0000-0000-000000000000/status.json")
    assert missing.status_code == 404 and missing.json() == {"problem": "not_found"}, missing.text[:200]
    client.cookies.clear()
    signed_out = await client.get("/console/imports/00000000-0000-0000-0000-000000000000/status.json")
    assert signed_out.status_code == 401 and signed_out.json() == {"problem": "sign_in"}, signed_out.text[:200]
    client.cookies.clear()


async def test_an_import_state_filter_that_is_no_state_is_named(api: Api) -> None:
    """?state=done (no such state) silently listed every import, as if the filter had been applied."""
    client = await signed_in(api)
    for lang, expected in (("zh", "状态筛选无效"), ("en", "not an import state")):
        page = await client.get("/console/imports", params={"state": "done", "lang": lang})
        problem = re.search(r'role="alert">(.*?)</div>', page.text, re.S)
        assert page.status_code == 200 and problem is not None, page.text[:300]
        assert expected in html.unescape(problem[1]), (lang, problem[1])
    assert 'role="alert"' not in (await client.get("/console/imports", params={"state": ""})).text  # "any"
    client.cookies.clear()


async def test_the_imports_pages_messages_say_what_happened(api: Api) -> None:
    """A preview without a file said "文件被拒绝: 导入文件（.xlsx 或 .csv）" (the field's label), and a bad page link
    or state filter was prefixed "文件被拒绝" (file refused) though no file was sent."""
    client = await signed_in(api)
    page = await client.get("/console/imports")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    no_file = await client.post("/console/imports/preview", data={"csrf": token[1]}, files={"x": ("", b"")})
    alert = re.search(r'role="alert">(.*?)</div>', no_file.text, re.S)
    assert no_file.status_code == 422 and alert is not None, no_file.text[:300]
    assert "请选择要导入的文件" in html.unescape(alert[1]), alert[1]
    for query in ({"state": "done"}, {"cursor": "garbled"}):
        listed = await client.get("/console/imports", params=query)
        alert = re.search(r'role="alert">(.*?)</div>', listed.text, re.S)
        assert alert is not None and "文件被拒绝" not in alert[1], (query, alert[1] if alert else listed.text[:300])
    client.cookies.clear()
