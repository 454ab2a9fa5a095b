"""API keys on the real database: scopes, rotation with an overlap, revocation at once, last use, the CLI."""

from __future__ import annotations

import argparse
import time
import uuid

import asyncpg
import httpx

from services.ingest.adapters.tenants import create_tenant
from services.ingest.domain.api_keys import Scope
from services.ingest.entrypoints.keys_cli import run_key_command
from tests.integration.push.conftest import Tenant, new_key, push, pushed_order


def auth(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def test_each_route_needs_its_scope(client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant) -> None:
    reader = await new_key(pool, tenant.id, "dashboard", Scope.READ)
    pusher = await new_key(pool, tenant.id, "mall-sync", Scope.PUSH)
    assert (await client.get("/v1/orders", headers=auth(reader))).status_code == 200
    refused = await push(client, reader, [pushed_order("S1")])
    assert refused.status_code == 403 and refused.json()["code"] == "missing_scope"
    assert "'push'" in refused.json()["detail"] and "dashboard" in refused.json()["detail"]
    assert (await client.get("/v1/orders", headers=auth(pusher))).status_code == 403
    assert (await client.get("/v1/keys", headers=auth(pusher))).status_code == 403
    upload = await client.post("/v1/imports", headers=auth(reader), files={"file": ("a.csv", b"x", "text/csv")})
    assert upload.status_code == 403  # refused from the request head by the upload gate
    assert (await client.get("/v1/keys", headers=auth(tenant.admin_key))).status_code == 200


async def test_keys_are_created_listed_without_secrets_rotated_and_revoked(
    client: httpx.AsyncClient, tenant: Tenant
) -> None:
    admin = auth(tenant.admin_key)
    created = await client.post("/v1/keys", json={"name": "erp", "scopes": ["read", "push"]}, headers=admin)
    assert created.status_code == 201, created.text
    first = created.json()
    assert first["key"].startswith("oik_") and first["scopes"] == ["read", "push"] and first["state"] == "active"
    listing = (await client.get("/v1/keys", headers=admin)).json()["items"]
    assert {k["name"] for k in listing} == {"default", "erp"}
    assert first["key"] not in str(listing) and all("key" not in k and "key_hash" not in k for k in listing)

    rotated = await client.post(f"/v1/keys/{first['id']}:rotate", params={"overlap_seconds": 3600}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert (second["name"], second["scopes"], second["replaces"]) == ("erp", ["read", "push"], first["id"])
    for key in (first["key"], second["key"]):  # both work during the overlap
        assert (await client.get("/v1/orders", headers=auth(key))).status_code == 200
    states = {k["id"]: k["state"] for k in (await client.get("/v1/keys", headers=admin)).json()["items"]}
    assert states[first["id"]] == "expiring"

    at_once = await client.post(f"/v1/keys/{second['id']}:rotate", params={"overlap_seconds": 0}, headers=admin)
    assert (await client.get("/v1/orders", headers=auth(second["key"]))).status_code == 401
    assert (await client.get("/v1/orders", headers=auth(at_once.json()["key"]))).status_code == 200

    bad = await client.post("/v1/keys", json={"name": "x", "scopes": ["write"]}, headers=admin)
    assert bad.status_code == 422 and "'write' is not a scope" in bad.json()["detail"]


async def test_a_revoked_key_is_refused_within_a_second(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    key = await new_key(pool, tenant.id, "leaked", Scope.READ)
    assert (await client.get("/v1/orders", headers=auth(key))).status_code == 200  # looked up (and any cache warm)
    key_id = await pool.fetchval("SELECT id FROM api_keys WHERE tenant_id = $1 AND name = 'leaked'", tenant.id)
    revoked = await client.delete(f"/v1/keys/{key_id}", headers=auth(tenant.admin_key))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    started = time.monotonic()
    refused = await client.get("/v1/orders", headers=auth(key))
    assert refused.status_code == 401 and time.monotonic() - started < 1.0


async def test_a_tenant_cannot_see_or_revoke_another_tenants_keys(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    async with pool.acquire() as conn:
        _, other_admin = await create_tenant(conn, "other")
    key_id = await pool.fetchval("SELECT id FROM api_keys WHERE tenant_id = $1", tenant.id)
    assert (await client.delete(f"/v1/keys/{key_id}", headers=auth(other_admin))).status_code == 404
    assert (await client.post(f"/v1/keys/{key_id}:rotate", headers=auth(other_admin))).status_code == 404
    listed = (await client.get("/v1/keys", headers=auth(other_admin))).json()["items"]
    assert str(key_id) not in str(listed)
    assert (await client.get("/v1/orders", headers=auth(tenant.admin_key))).status_code == 200


async def test_last_use_is_recorded_at_most_once_a_minute(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    key = await new_key(pool, tenant.id, "poller", Scope.READ)

    async def last_used() -> object:
        return await pool.fetchval(
            "SELECT last_used_at FROM api_keys WHERE tenant_id = $1 AND name = 'poller'", tenant.id
        )

    assert await last_used() is None
    await client.get("/v1/orders", headers=auth(key))
    first = await last_used()
    assert first is not None
    for _ in range(3):
        await client.get("/v1/orders", headers=auth(key))
    assert await last_used() == first  # no write per request
    await pool.execute(
        "UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE name = 'poller' AND tenant_id = $1",
        tenant.id,
    )
    stale = await last_used()
    await client.get("/v1/orders", headers=auth(key))
    assert await last_used() != stale


async def test_the_cli_creates_lists_rotates_and_revokes(pool: asyncpg.Pool, tenant: Tenant) -> None:
    def args(command: str, **values: object) -> argparse.Namespace:
        return argparse.Namespace(command="keys", key_command=command, tenant=str(tenant.id), **values)

    code, lines = await run_key_command(pool, args("create", name="cli", scopes="read, push"))
    assert code == 0 and "API key (shown once" in lines[1] and "read,push" in lines[0]
    secret = lines[1].rsplit(" ", 1)[1]
    key_id = lines[0].split()[2]
    code, lines = await run_key_command(pool, args("list"))
    assert code == 0 and len(lines) == 2 and secret not in "\n".join(lines)
    code, lines = await run_key_command(pool, args("rotate", key_id=key_id, overlap="90s"))
    assert code == 0 and "0:01:30" in lines[0]
    code, lines = await run_key_command(pool, args("revoke", key_id=key_id))
    assert code == 0 and "revoked" in lines[0]
    code, lines = await run_key_command(pool, args("revoke", key_id=str(uuid.uuid4())))
    assert code == 2 and "no key" in lines[0]
    code, lines = await run_key_command(pool, args("create", name="cli", scopes="everything"))
    assert code == 2 and "'everything' is not a scope" in lines[0]


async def test_the_console_signs_in_only_keys_that_may_read(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    import re

    pusher = await new_key(pool, tenant.id, "mall-sync", Scope.PUSH)
    reader = await new_key(pool, tenant.id, "dashboard", Scope.READ)
    for key, status in ((pusher, 401), (reader, 303)):
        client.cookies.clear()
        page = await client.get("/console/sign-in")
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        answer = await client.post("/console/sign-in", data={"csrf": found[1], "api_key": key})
        assert answer.status_code == status, answer.text[:200]
    client.cookies.clear()


async def test_the_cli_sets_a_tenants_quota_overrides(pool: asyncpg.Pool, tenant: Tenant) -> None:
    def args(**values: object) -> argparse.Namespace:
        return argparse.Namespace(command="tenant", key_command="quotas", tenant=str(tenant.id), **values)

    code, lines = await run_key_command(pool, args(push_orders_per_second=5, import_rows_per_hour=None))
    assert code == 0 and "push_orders_per_second = 5" in lines[0]
    row = await pool.fetchrow(
        "SELECT push_orders_per_second, import_rows_per_hour FROM tenants WHERE id = $1", tenant.id
    )
    assert tuple(row) == (5, None)
    code, lines = await run_key_command(pool, args(push_orders_per_second=0, import_rows_per_hour=None))
    assert code == 2 and "--push-orders-per-second" in lines[0]
    code, lines = await run_key_command(pool, args(push_orders_per_second=None, import_rows_per_hour=None))
    assert code == 0


async def _console_sign_in(client: httpx.AsyncClient, key: str) -> str:
    """Sign the client in to the console with `key`; the page's CSRF token."""
    import re

    client.cookies.clear()
    page = await client.get("/console/sign-in")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    answer = await client.post("/console/sign-in", data={"csrf": found[1], "api_key": key})
    assert answer.status_code == 303, answer.text[:200]
    imports = await client.get("/console/imports")
    found = re.search(r'name="csrf" value="([^"]+)"', imports.text)
    assert found is not None
    return found[1]


async def test_the_console_imports_only_for_keys_that_may_import(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """A read-only key (refused by POST /v1/imports with missing_scope) previewed and imported files through the
    console: the session did not keep the key's scopes."""
    reader = await new_key(pool, tenant.id, "viewer", Scope.READ)
    importer = await new_key(pool, tenant.id, "operator", Scope.READ, Scope.IMPORT)
    files = {"file": ("scoped.csv", b"a,b\n1,2\n", "text/csv")}
    try:
        csrf = await _console_sign_in(client, reader)
        page = await client.get("/console/imports")
        assert 'action="/console/imports/preview"' not in page.text and "没有导入权限" in page.text
        for path in ("/console/imports/preview", "/console/imports/confirm"):
            refused = await client.post(path, files=files, data={"csrf": csrf, "token": "x"})
            assert refused.status_code == 403 and "没有导入权限" in refused.text, refused.text[:300]
        csrf = await _console_sign_in(client, importer)
        allowed = await client.post("/console/imports/preview", files=files, data={"csrf": csrf})
        assert allowed.status_code == 400 and "没有导入权限" not in allowed.text  # the file's header is refused
    finally:
        client.cookies.clear()


async def test_revoking_a_key_signs_its_console_sessions_out(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """A revoked key's console session kept reading the tenant's orders until it expired (8 hours): the session
    was never checked against the key again."""
    from services.ingest.adapters.tenants import revoke_key, tenant_for_key

    key = await new_key(pool, tenant.id, "laptop", Scope.READ)
    try:
        await _console_sign_in(client, key)
        assert (await client.get("/console/orders")).status_code == 200
        async with pool.acquire() as conn:
            found = await tenant_for_key(conn, key)
            assert found is not None and found.key_id is not None
            await revoke_key(conn, tenant.id, found.key_id)
        answer = await client.get("/console/orders")
        assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in?ended=1", answer.text[:200]
        page = await client.get("/console/sign-in")
        assert "退出登录" not in page.text  # signed out, not a session that only looks signed in
    finally:
        client.cookies.clear()


async def test_a_key_that_may_not_read_is_told_so_at_sign_in(
    client: httpx.AsyncClient, pool: asyncpg.Pool, tenant: Tenant
) -> None:
    """A push-only key was told "API 密钥无效" (not valid), as an unknown key is: its owner looked for a typo."""
    import re

    pusher = await new_key(pool, tenant.id, "mall-sync-2", Scope.PUSH)
    try:
        for key, expected in ((pusher, "没有读取权限"), ("oik_unknown", "API 密钥无效")):
            client.cookies.clear()
            page = await client.get("/console/sign-in")
            found = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert found is not None
            answer = await client.post("/console/sign-in", data={"csrf": found[1], "api_key": key})
            problem = re.search(r'class="error" role="alert">([^<]*)<', answer.text)
            assert answer.status_code == 401 and problem is not None and expected in problem[1], answer.text[:300]
    finally:
        client.cookies.clear()
