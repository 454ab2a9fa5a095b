"""Erasure on the real stack: an upload's customer erased through the admin API leaves no personal data in any row
of the tenant nor in the latest record of the compacted `customers.updated.v1`; a redelivered old order is refused
and brings nothing back; masked mobiles for a tenant configured so."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx

from services.ingest.adapters import erasure_store
from services.ingest.adapters.tenants import create_tenant
from services.ingest.contracts.orders_ingest_v1 import message_key
from services.ingest.domain.spreadsheet.template import COLUMNS
from services.ingest.main import create_app
from services.ingest.settings import IngestSettings
from services.platform.settings import ConnectionSettings
from services.platform.topics import topic_configs
from services.rules_bridge.contracts import customer_updated_v1
from services.rules_bridge.main import serve
from tests.integration.ingest.live import dead_letters, fresh_settings, send_raw
from tests.integration.rules_bridge.support import relay_settings
from tests.support.api import api_with_consumer
from tests.support.orders import message
from tests.support.waiting import eventually
from tools.samples import sample_rows, write_sample_xlsx
from tools.verification.checks import read_topic

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERSONAL = {
    "buyer_sobot_id": "sobot-erase-me",
    "buyer_mobile": "13800138001",
    "buyer_unionid": "union-erase-me",
    "buyer_nickname": "Erasable Lily",
    "receiver_name": "李小花",
    "receiver_mobile": "13900139002",
    "receiver_address": "1 Secret Rd, Shanghai",
    "remark": "call 13800138001 before noon",
}
POSITION = {column.key: i for i, column in enumerate(COLUMNS)}


def upload_with_a_known_buyer(path: Path) -> Path:
    """Three orders of two lines; the first one's buyer and receiver are `PERSONAL`; the third, of the same buyer, is
    held back (its receiver's name is too long), so its rows and the import's first errors quote personal data of an
    order never stored."""
    rows = [list(row) for row in sample_rows(3, 2, seed=3)]
    for row in rows[:2]:
        for key, value in PERSONAL.items():
            row[POSITION[key]] = value
    for row in rows[4:]:
        row[POSITION["buyer_mobile"]] = PERSONAL["buyer_mobile"]
        row[POSITION["receiver_name"]] = PERSONAL["receiver_name"] * 100
    write_sample_xlsx(path, [tuple(row) for row in rows])
    return path


@contextlib.asynccontextmanager
async def stack(settings: IngestSettings, pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The API (with its lifespan), a consumer and a relay, all on `settings`' topics."""
    stop = asyncio.Event()
    relay = asyncio.create_task(serve(relay_settings(settings, ops_port=0), stop))
    try:
        async with api_with_consumer(create_app(settings), settings, pool) as http:
            yield http
    finally:
        stop.set()
        await relay


async def personal_data_left(pool: asyncpg.Pool, tenant: UUID, values: set[str]) -> list[str]:
    """`table: value` for each value found in any column of any row of the tenant (every table with a tenant_id)."""
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.columns"
            " WHERE column_name = 'tenant_id' AND table_schema = 'public' ORDER BY table_name"
        )
        found = []
        for (table,) in tables:
            rows = await conn.fetch(f'SELECT row_to_json(t)::text AS row FROM "{table}" t WHERE tenant_id = $1', tenant)
            found += [f"{table}: {v}" for r in rows for v in values if v in r["row"]]
    return found


async def latest_customer_record(settings: IngestSettings, key: bytes) -> tuple[int, bytes | None]:
    records = [r for r in await read_topic(settings, settings.topic(customer_updated_v1.TOPIC.name)) if r.key == key]
    return len(records), records[-1].value if records else b"none"


async def test_an_erased_customer_leaves_no_personal_data(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = fresh_settings(connection_settings)
    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, "erasure")
    headers = {"X-API-Key": key}
    async with stack(settings, pool) as api:
        data = upload_with_a_known_buyer(tmp_path / "orders.xlsx").read_bytes()
        receipt = (await api.post("/v1/imports", headers=headers, files={"file": ("o.xlsx", data, XLSX)})).json()

        async def state() -> str:
            return str((await api.get(f"/v1/imports/{receipt['import_id']}", headers=headers)).json()["state"])

        done = await eventually(state, lambda s: s != "queued" and s != "processing", within=60)
        assert done == "completed_with_errors"  # the third order held back
        erased = (await api.get("/v1/customers", headers=headers, params={"mobile": PERSONAL["buyer_mobile"]})).json()
        customer_key = f"{tenant.id}:{erased['id']}".encode()
        await eventually(lambda: latest_customer_record(settings, customer_key), lambda found: found[0] >= 1)
        assert await personal_data_left(pool, tenant.id, set(PERSONAL.values()))  # the probe finds them before

        answer = await api.delete(f"/v1/customers/{erased['id']}", headers=headers)
        assert answer.status_code == 200, answer.text
        assert sorted(answer.json()["identifiers"]) == ["mobile", "nickname", "sobot_customer_id", "unionid"]
        assert answer.json()["orders"] == 1
        assert await personal_data_left(pool, tenant.id, set(PERSONAL.values())) == []
        await eventually(lambda: latest_customer_record(settings, customer_key), lambda found: found[1] is None)
        assert (await api.delete(f"/v1/customers/{uuid.uuid4()}", headers=headers)).status_code == 404

        # the old order redelivered (with the buyer's data): refused, its data kept out of the dead letter too
        old = message(tenant.id, "REDELIVERED", buyer={"mobile": PERSONAL["buyer_mobile"], "nickname": "Lily"})
        await send_raw(settings, [(message_key(tenant.id, old.order_no), old.model_dump_json().encode(), [])])
        letters = await eventually(lambda: dead_letters(settings), lambda found: len(found) == 1)
        assert letters[0].headers["x-reason-code"] == b"erased_customer" and letters[0].value == b""
        assert await personal_data_left(pool, tenant.id, set(PERSONAL.values())) == []
        gone = await api.get("/v1/customers", headers=headers, params={"mobile": PERSONAL["buyer_mobile"]})
        assert gone.status_code == 404
        async with pool.acquire() as conn:
            audit = await conn.fetchrow(
                "SELECT erased_by, orders FROM customer_erasures WHERE tenant_id = $1", tenant.id
            )
            configs = await topic_configs_of(settings)
        assert audit["orders"] == 1 and audit["erased_by"].startswith("api:default:")  # the key, by name and id
        assert configs["cleanup.policy"][0] == "compact"


async def topic_configs_of(settings: IngestSettings) -> dict[str, tuple[str, bool]]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        name = settings.topic(customer_updated_v1.TOPIC.name)
        return (await topic_configs(admin, [name]))[name]
    finally:
        await admin.close()


async def test_a_tenant_configured_so_gets_masked_mobiles(
    connection_settings: ConnectionSettings, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = fresh_settings(connection_settings)
    async with pool.acquire() as conn:
        tenant, key = await create_tenant(conn, "masked")
    headers = {"X-API-Key": key}
    async with stack(settings, pool) as api:
        data = upload_with_a_known_buyer(tmp_path / "orders.xlsx").read_bytes()
        receipt = (await api.post("/v1/imports", headers=headers, files={"file": ("o.xlsx", data, XLSX)})).json()

        async def customer() -> httpx.Response:
            return await api.get("/v1/customers", headers=headers, params={"mobile": PERSONAL["buyer_mobile"]})

        full = (await eventually(customer, lambda r: r.status_code == 200, within=60)).json()
        assert full["mobile"] == "13800138001"
        async with pool.acquire() as conn:
            _, other_key = await create_tenant(conn, "another tenant")
        refused = await api.delete(f"/v1/customers/{full['id']}", headers={"X-API-Key": other_key})
        assert refused.status_code == 404  # another tenant's customer: not found, untouched
        assert (await customer()).json()["mobile"] == "13800138001"
        async with pool.acquire() as conn:
            assert await erasure_store.set_mask_mobiles(conn, tenant.id, True)
            assert not await erasure_store.set_mask_mobiles(conn, uuid.uuid4(), True)
        assert (await customer()).json()["mobile"] == "138****8001"
        order_no = full["recent_orders"][0]["order_no"]
        order = (await api.get(f"/v1/orders/{order_no}", headers=headers)).json()
        assert order["buyer"]["mobile"] == "138****8001" and order["receiver"]["mobile"] == "139****9002"
        assert order["customer"]["mobile"] == "138****8001"
        assert receipt["orders"] == 2


def test_the_cli_names_what_it_could_not_find(connection_settings: ConnectionSettings) -> None:
    import os
    import subprocess
    import sys

    env = os.environ | {"DATABASE_URL": connection_settings.database_url}
    command = [sys.executable, "-m", "services.cli", "customers"]
    tenant, customer = str(uuid.uuid4()), str(uuid.uuid4())
    erase = subprocess.run([*command, "erase", customer, "--tenant", tenant], env=env, capture_output=True, text=True)
    assert erase.returncode == 1 and f"tenant {tenant} has no customer {customer}" in erase.stdout
    mask = subprocess.run([*command, "mask-mobiles", "--tenant", tenant, "on"], env=env, capture_output=True, text=True)
    assert mask.returncode == 1 and f"no tenant {tenant}" in mask.stdout
    bad = subprocess.run([*command, "erase", "nope", "--tenant", tenant], env=env, capture_output=True, text=True)
    assert bad.returncode == 2
