"""`orderinfo keys create|list|rotate|revoke` and `orderinfo tenant quotas`: operator commands on the database.

Each returns an exit code and the lines to print: 0 and the result, or 2 and one line saying what was refused.
A key's secret is printed once, when it is created or rotated.
"""

from __future__ import annotations

import argparse
from typing import Any
from uuid import UUID

from services.ingest.adapters import tenants
from services.ingest.adapters.tenants import ApiKey, TenantQuotas
from services.ingest.domain.api_keys import KeyRequestError, key_name, parse_overlap, parse_scopes


async def run_key_command(pool: Any, args: argparse.Namespace) -> tuple[int, list[str]]:
    try:
        async with pool.acquire() as conn:
            return 0, await _COMMANDS[args.key_command](conn, args)
    except KeyRequestError as exc:
        return 2, [f"orderinfo {args.command} {args.key_command}: {exc}"]


def _uuid(text: str, what: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise KeyRequestError(f"{what}: {text!r} is not an id (a UUID)") from None


def _line(key: ApiKey) -> str:
    used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
    until = f" until {key.expires_at.isoformat(timespec='seconds')}" if key.expires_at else ""
    return f"{key.id}  {key.name!r}  {','.join(key.scopes)}  {key.state}{until}  last used {used}"


async def _create(conn: Any, args: argparse.Namespace) -> list[str]:
    scopes = parse_scopes(s for s in args.scopes.split(",") if s.strip())
    key, secret = await tenants.create_key(conn, _uuid(args.tenant, "tenant"), key_name(args.name), scopes)
    return [f"key created: {_line(key)}", f"API key (shown once, keep it safe): {secret}"]


async def _list(conn: Any, args: argparse.Namespace) -> list[str]:
    keys = await tenants.list_keys(conn, _uuid(args.tenant, "tenant"))
    return [_line(k) for k in keys] or ["no keys"]


async def _rotate(conn: Any, args: argparse.Namespace) -> list[str]:
    window = parse_overlap(args.overlap)
    key, secret = await tenants.rotate_key(conn, _uuid(args.tenant, "tenant"), _uuid(args.key_id, "key"), window)
    return [f"key rotated; the old key works for {window}: {_line(key)}", f"API key (shown once): {secret}"]


async def _revoke(conn: Any, args: argparse.Namespace) -> list[str]:
    key = await tenants.revoke_key(conn, _uuid(args.tenant, "tenant"), _uuid(args.key_id, "key"))
    if key is None:
        raise KeyRequestError(f"key: no key {args.key_id} of tenant {args.tenant}")
    return [f"key revoked: {_line(key)}"]


async def _quotas(conn: Any, args: argparse.Namespace) -> list[str]:
    for name in ("push_orders_per_second", "import_rows_per_hour"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise KeyRequestError(f"--{name.replace('_', '-')}: expected a positive number")
    quotas = TenantQuotas(args.push_orders_per_second, args.import_rows_per_hour)
    if not await tenants.set_quotas(conn, _uuid(args.tenant, "tenant"), quotas):
        raise KeyRequestError(f"tenant: no tenant {args.tenant}")
    shown = {k: v or "the setting" for k, v in vars(quotas).items()}
    return [f"tenant {args.tenant} quotas: " + ", ".join(f"{k} = {v}" for k, v in shown.items())]


_COMMANDS = {"create": _create, "list": _list, "rotate": _rotate, "revoke": _revoke, "quotas": _quotas}
