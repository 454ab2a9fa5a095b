"""PostgreSQL connections for every process: one pool, JSON codecs, migrations applied on start.

The codecs: json and jsonb values are Python values (encoded with `json.dumps`, decoded with `json.loads`), except a
`JsonText`, which is JSON already encoded and goes into a json column as is. The json codec speaks the binary format
(for json it is the text itself), so `copy_records_to_table` (binary COPY) can fill json columns.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from services.platform.migrations import migrate


class JsonText(str):
    """JSON text already encoded (by orjson, say), written to a json column byte for byte: not encoded again.

    A plain `str` stays a Python value (a JSON string). asyncpg's own json codec (a connection without the pool's
    codecs) takes it as text too, so a `JsonText` reads the same on either connection."""

    __slots__ = ()


def _encode_json(value: Any) -> bytes:
    if type(value) is JsonText:
        return value.encode()
    return json.dumps(value).encode()


async def install_json_codecs(conn: asyncpg.Connection) -> None:
    """The pool's json and jsonb codecs (see the module), on `conn`."""
    await conn.set_type_codec("json", encoder=_encode_json, decoder=json.loads, schema="pg_catalog", format="binary")
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _init_connection(conn: asyncpg.Connection) -> None:
    await install_json_codecs(conn)


async def create_pool(database_url: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:
    """A pool whose connections encode and decode json/jsonb as Python values."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        database_url, min_size=min_size, max_size=max_size, init=_init_connection, **kwargs
    )
    return pool


async def open_database(database_url: str, **kwargs: Any) -> asyncpg.Pool:
    """Migrate the database, then return a pool: what every service process does on start."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return await create_pool(database_url, **kwargs)


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, purpose: str) -> AsyncIterator[str]:
    """A freshly migrated database of its own on the server of `server_url` (tests, benchmarks, verification
    runs isolate themselves this way); dropped afterwards, even when its users still hold connections."""
    name = f"orderinfo_{purpose}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = server_url.rsplit("/", 1)[0] + f"/{name}"
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url
    finally:
        with contextlib.suppress(Exception):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
