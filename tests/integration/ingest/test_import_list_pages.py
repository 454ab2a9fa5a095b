"""GET /v1/imports in keyset pages: the latest 200 were all one could read. Pages follow (created_at, id), newest
first: two imports of the same instant split by a page boundary are each listed once, an import recorded while
paging shows on no later page, another tenant's never appear (even after its cursor), bad values are 422s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx

from services.ingest.adapters.tenants import create_tenant
from tests.integration.ingest.test_http_imports import api_key, app, client, settings, upload
from tools.samples import sample_rows, write_sample_csv

__all__ = ["api_key", "app", "client", "settings"]


def refused_file(tmp_path: Path, n: int) -> bytes:
    """A strict upload of it is refused and recorded as a failed import: nothing published, quick."""
    rows = [list(r) for r in sample_rows(1, 1, seed=40 + n)]
    rows[0][2] = "Teleported"
    path = tmp_path / f"refused-{n}.csv"
    write_sample_csv(path, [tuple(r) for r in rows])
    return path.read_bytes()


async def recorded(client: httpx.AsyncClient, key: str, tmp_path: Path, n: int) -> str:
    answer = await upload(client, key, refused_file(tmp_path, n), mode="strict")
    assert answer.status_code == 422, answer.text[:300]
    return str(answer.json()["import_id"])


async def walk(client: httpx.AsyncClient, key: str, limit: int, between: Any = None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        answer = await client.get("/v1/imports", params=params, headers={"X-API-Key": key})
        assert answer.status_code == 200, answer.text[:300]
        body = answer.json()
        assert len(body["items"]) <= limit
        seen += [i["import_id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        if between is not None:
            await between()
            between = None


async def test_import_pages_split_one_instant_skip_nothing_and_stay_in_their_tenant(
    client: httpx.AsyncClient, api_key: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    ids = [await recorded(client, api_key, tmp_path, n) for n in range(5)]
    async with pool.acquire() as conn:
        _, other_key = await create_tenant(conn, "paging stranger")
    foreign = await recorded(client, other_key, tmp_path, 9)
    # imports 1 and 2 recorded in the same instant: pages of 1 and of 3 (newest first: 4, 3, the pair, 0) split them
    await pool.execute(
        "UPDATE imports SET created_at = (SELECT created_at FROM imports WHERE id = $1) WHERE id = $2",
        ids[1],
        ids[2],
    )
    rows = await pool.fetch(
        "SELECT id::text FROM imports WHERE id = ANY($1::uuid[]) ORDER BY created_at DESC, id DESC", ids
    )
    expected = [r["id"] for r in rows]
    for limit in (1, 2, 3, 200):
        assert await walk(client, api_key, limit) == expected, limit
    late: list[str] = []

    async def record_one() -> None:
        late.append(await recorded(client, api_key, tmp_path, 7))

    assert await walk(client, api_key, 2, between=record_one) == expected  # the later one is newer: page 1 only
    assert (await walk(client, api_key, 200))[0] == late[0]
    assert foreign not in await walk(client, api_key, 1)
    assert await walk(client, other_key, 1) == [foreign]
    again = await client.get("/v1/imports", params={"cursor": "x" * 10}, headers={"X-API-Key": api_key})
    assert again.status_code == 422 and again.json()["code"] == "invalid_cursor", again.text
    for bad in ("limit=0", "limit=201", "limit=a", "before=x", "cursor=" + "x" * 600):
        answer = await client.get(f"/v1/imports?{bad}", headers={"X-API-Key": api_key})
        assert answer.status_code == 422, (bad, answer.text)
    assert (await client.get("/v1/imports?before=x", headers={"X-API-Key": api_key})).json()["code"] == (
        "unknown_parameter"
    )
