"""Migration 0009 on a database that has tenants: each tenant's key keeps working, with every scope."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import asyncpg

from services.ingest.adapters.tenants import hash_key, new_secret, tenant_for_key
from services.ingest.domain.api_keys import ALL_SCOPES
from services.platform import migrations
from tests.support.services import ServiceAddresses

MIGRATIONS = Path(migrations.__file__).parent / "migrations"


async def test_an_existing_tenant_key_becomes_a_key_with_every_scope(
    services: ServiceAddresses, tmp_path: Path
) -> None:
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "0009":
            shutil.copy(path, tmp_path / path.name)
    name = f"orderinfo_keys_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(services.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(services.database_url.rsplit("/", 1)[0] + f"/{name}")
        try:
            await migrations.migrate(conn, tmp_path)
            tenant_id, key = uuid.uuid4(), new_secret()
            await conn.execute(
                "INSERT INTO tenants (id, name, api_key_hash) VALUES ($1, 'old', $2)", tenant_id, hash_key(key)
            )
            assert "0009_api_keys_push" in await migrations.migrate(conn)
            found = await tenant_for_key(conn, key)
            assert found is not None and (found.id, found.key_name, found.scopes) == (tenant_id, "default", ALL_SCOPES)
            assert await conn.fetchval("SELECT api_key_hash FROM tenants WHERE id = $1", tenant_id) is None
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
