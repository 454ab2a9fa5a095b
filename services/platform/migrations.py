"""Schema migrations: the ordered SQL files in `migrations/`, applied once each, tracked in `schema_migrations`.

Safe to run from several processes at once (an advisory lock serialises them) and on every start (applied files
are skipped). Each file runs in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FOLDER = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x0D3E_11F0  # advisory lock id reserved for migrations


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str


def available(folder: Path = _FOLDER) -> list[Migration]:
    """Every `NNNN_name.sql` file, in order."""
    return [Migration(path.stem, path.read_text()) for path in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))]


async def migrate(conn: Any, folder: Path = _FOLDER) -> list[str]:
    """Apply the migrations `conn`'s database lacks; return the versions applied now."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        applied = []
        for migration in available(folder):
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", migration.version)
            applied.append(migration.version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
