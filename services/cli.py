"""`orderinfo`: the one command an operator uses. Each subcommand delegates to the package that owns the work;
imports happen inside the handlers so `orderinfo --help` stays fast and nothing connects at import time."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def _stack(args: argparse.Namespace) -> int:
    from services.platform.stack import stack
    from services.platform.stack.process import StackError
    from services.platform.stack.settings import StackSettings

    action = {"up": stack.up, "down": stack.down, "status": stack.status}[args.action]
    try:
        for line in action(StackSettings()):
            print(line, flush=True)
    except StackError as exc:
        print(f"orderinfo stack {args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


def _until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `main(stop)` until SIGINT/SIGTERM sets `stop`."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
    return 0


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def _consume(args: argparse.Namespace) -> int:
    from services.ingest.main import run_consumer
    from services.ingest.settings import IngestSettings

    _logging()
    settings = IngestSettings()
    return _until_signalled(lambda stop: run_consumer(settings, stop))


def _relay(args: argparse.Namespace) -> int:
    from services.rules_bridge.main import RelaySettings, serve, tune_collector

    _logging()
    settings = RelaySettings()
    tune_collector()
    return _until_signalled(lambda stop: serve(settings, stop))


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from services.ingest.entrypoints.http.app import server_options
    from services.ingest.settings import IngestSettings

    _logging()
    settings = IngestSettings()
    uvicorn.run(
        "services.ingest.main:create_app",
        factory=True,
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        log_level="info",
        access_log=False,
        **server_options(settings),
    )
    return 0


def _on_database(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(pool)` on the configured database, migrated first; the pool is closed afterwards."""
    from services.platform.database import open_database
    from services.platform.settings import ConnectionSettings

    async def main() -> T:
        pool = await open_database(ConnectionSettings().database_url, min_size=1, max_size=1)
        try:
            return await work(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def _migrate(args: argparse.Namespace) -> int:
    async def nothing(pool: Any) -> None:
        return None

    _on_database(nothing)
    print("database migrated")
    return 0


def _tenant(args: argparse.Namespace) -> int:
    from services.ingest.adapters.tenants import create_tenant
    from services.ingest.domain.api_keys import KeyRequestError, key_name

    try:
        name = key_name(args.name)  # shown on the console's pages and in listings: as a key's name is
    except KeyRequestError as exc:
        print(f"orderinfo tenant create: {exc}", file=sys.stderr)
        return 2

    async def create(pool: Any) -> Any:
        async with pool.acquire() as conn:
            return await create_tenant(conn, name)

    tenant, key = _on_database(create)
    print(f"tenant {tenant.name!r} created: id {tenant.id}")
    print(f"API key (shown once, keep it safe): {key}")
    return 0


def _keys(args: argparse.Namespace) -> int:
    from services.ingest.entrypoints.keys_cli import run_key_command

    code, lines = _on_database(lambda pool: run_key_command(pool, args))
    for line in lines:
        print(line, file=sys.stderr if code else sys.stdout)
    return code


def _import(args: argparse.Namespace) -> int:
    from services.ingest.entrypoints.upload_client import UploadRequest, upload_and_follow

    request = UploadRequest(
        path=args.file,
        api=args.api,
        api_key=args.api_key,
        mode=args.mode,
        timezone=args.timezone,
        dry_run=args.dry_run,
        sheet=args.sheet,
        output=args.output,
        as_json=args.json,
        lang=args.lang,
    )
    return upload_and_follow(request)


def _seed(args: argparse.Namespace) -> int:
    from tools.seeding import seed

    tenant_id, key = _on_database(lambda pool: seed(pool, args.tenant_name, args.orders, args.seed))
    print(f"tenant {args.tenant_name!r} seeded with {args.orders:,} orders: id {tenant_id}")
    print(f"API key (shown once, keep it safe): {key}")
    return 0


def _dlq(args: argparse.Namespace) -> int:
    from services.ingest.entrypoints.dead_letters_cli import run_dlq

    code: int = _on_database(lambda pool: run_dlq(pool, args))
    return code


def _customers(args: argparse.Namespace) -> int:
    from services.ingest.entrypoints.erasure_cli import run_customers
    from services.rules_bridge.outbox_writer import tombstone_customer

    code: int = _on_database(lambda pool: run_customers(pool, args, tombstone_customer))
    return code


def _export(args: argparse.Namespace) -> int:
    """A tenant's orders (the order list's filters) as CSV or .xlsx in the import template's columns."""
    from pathlib import Path

    from services.ingest.adapters.tenants import tenant_exists
    from services.ingest.application import orders
    from services.ingest.entrypoints.http.exports import ExportFormat, export_to_file
    from services.ingest.errors import ApiProblem

    async def export(pool: Any) -> int | None:
        async with pool.acquire() as conn:
            if not await tenant_exists(conn, args.tenant_id):
                return None
        return await export_to_file(pool, args.tenant_id, where, ExportFormat(args.format), args.timezone, out)

    out = Path(args.out)
    existed = out.exists()
    try:
        where = orders.order_filter(
            order_no_prefix=args.prefix,
            statuses=args.status or (),
            source=args.source,
            store=args.store,
            order_time_from=args.time_from,
            order_time_to=args.time_to,
        )
        out.open("ab").close()  # a file that cannot be written is said before the database is asked
        written = _on_database(export)
    except ApiProblem as exc:
        if not existed:  # a refused zone is said once the file was opened
            out.unlink(missing_ok=True)
        print(f"orderinfo export: {exc.problem.detail}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename != str(out):
            raise
        print(f"orderinfo export: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return 2
    if written is None:
        if not existed:
            out.unlink(missing_ok=True)
        print(f"orderinfo export: no tenant {args.tenant_id}; nothing written", file=sys.stderr)
        return 2
    print(f"{args.out}: {written:,} bytes")
    return 0


def _consumer_count(text: str) -> int:
    try:
        from tools.verification.cli import consumer_count
    except ModuleNotFoundError:  # no tools/ (the service image): `_verify` says so
        return 1
    return consumer_count(text)


def _verify(args: argparse.Namespace) -> int:
    from tools.verification.cli import main_verify

    argv = ["--consumers", str(args.consumers)] + (["--no-restarts"] if args.no_restarts else [])
    return main_verify(argv)


def _run(args: argparse.Namespace) -> int:
    from services.runner import run_everything

    return run_everything(with_demo=not args.no_demo)


def _instant(text: str) -> Any:
    from datetime import datetime

    found = datetime.fromisoformat(text)
    if found.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset (e.g. 2026-11-01T00:00:00+08:00)")
    return found


def _tenant_id(text: str) -> Any:
    from uuid import UUID

    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a tenant id (a UUID)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orderinfo", description="Order Info operator commands")
    sub = parser.add_subparsers(dest="command", required=True)

    stack = sub.add_parser("stack", help="the local Kafka broker and PostgreSQL (no Docker needed)")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.set_defaults(handler=_stack)

    run = sub.add_parser("run", help="stack + every service process in the foreground, with a demo; Ctrl-C stops")
    run.add_argument("--no-demo", action="store_true", help="skip the demo tenant and sample import")
    run.set_defaults(handler=_run)

    sub.add_parser("api", help="the HTTP API").set_defaults(handler=_api)
    sub.choices["api"].add_argument("--host")
    sub.choices["api"].add_argument("--port", type=int)
    sub.add_parser("consume", help="the orders.ingest.v1 consumer").set_defaults(handler=_consume)
    sub.add_parser("relay", help="the rules bridge's outbox relay").set_defaults(handler=_relay)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(handler=_migrate)

    tenant = sub.add_parser("tenant", help="tenants")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_sub.add_parser("create", help="create a tenant and print its API key once")
    create.add_argument("name")
    create.set_defaults(handler=_tenant)

    quotas = tenant_sub.add_parser("quotas", help="set a tenant's quota overrides (omitted: the setting applies)")
    quotas.add_argument("tenant", help="the tenant's id")
    quotas.add_argument("--push-orders-per-second", type=int, default=None)
    quotas.add_argument("--import-rows-per-hour", type=int, default=None)
    quotas.set_defaults(handler=_keys, key_command="quotas")
    _key_parsers(sub)

    seeding = sub.add_parser("seed", help="load realistic orders for a new tenant (benchmarks, demos)")
    seeding.add_argument("--orders", type=int, default=100_000)
    seeding.add_argument("--tenant-name", default="bench")
    seeding.add_argument("--seed", type=int, default=0)
    seeding.set_defaults(handler=_seed)

    _dlq_parser(sub)
    _customers_parser(sub)
    exporting = sub.add_parser("export", help="a tenant's orders as CSV or .xlsx in the import template's columns")
    exporting.add_argument("--tenant-id", required=True, type=_tenant_id)
    exporting.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    exporting.add_argument("--out", required=True, help="file to write")
    exporting.add_argument("--timezone", default="Asia/Shanghai", help="zone the times are written in")
    exporting.add_argument("--prefix", help="order no. prefix")
    exporting.add_argument("--status", action="append", help="a status code or label (repeat for several)")
    exporting.add_argument("--source")
    exporting.add_argument("--store", help="store no. or store ID")
    exporting.add_argument("--from", dest="time_from", type=_instant, help="ISO-8601 with an offset, inclusive")
    exporting.add_argument("--to", dest="time_to", type=_instant, help="ISO-8601 with an offset, exclusive")
    exporting.set_defaults(handler=_export)

    verify = sub.add_parser("verify", help="fault scenarios on the running stack; prints a table of verdicts")
    # spelled out: a REMAINDER positional takes no option that comes first (`verify --consumers 2` was refused)
    verify.add_argument("--no-restarts", action="store_true", help="skip the scenarios that need the private stack")
    verify.add_argument("--consumers", type=_consumer_count, default=1, help="consumer processes per scenario, 1-8")
    verify.set_defaults(handler=_verify)

    upload = sub.add_parser(
        "import",
        help="upload an import file and follow it to completion",
        description="Upload an .xlsx or .csv import and follow it until it completes.",
        epilog="exit codes: 0 every row imported; 1 rows failed, were held back or dead-lettered; "
        "2 the file or request was refused (or the import failed); 3 the service is unreachable",
    )
    upload.add_argument("file", help="the .xlsx or .csv file (the template's columns)")
    upload.add_argument("--api", default="http://127.0.0.1:8080", help="the API's address (default: %(default)s)")
    upload.add_argument("--api-key", default=None, help="the tenant's API key (default: $ORDERINFO_API_KEY)")
    upload.add_argument(
        "--mode",
        choices=["partial", "strict"],
        default="partial",
        help="partial: import the valid orders; strict: refuse the file if any row is invalid (default: %(default)s)",
    )
    upload.add_argument(
        "--timezone", default="Asia/Shanghai", help="the zone of the file's times (default: %(default)s)"
    )
    upload.add_argument("--sheet", default=None, help="the sheet to read (default: the first)")
    upload.add_argument("--dry-run", action="store_true", help="validate and preview what would happen; write nothing")
    upload.add_argument("--json", action="store_true", help="print one JSON document instead of progress and text")
    upload.add_argument("--output", metavar="RESULT.xlsx", help="save the result workbook (every row and its outcome)")
    upload.add_argument(
        "--lang",
        choices=["zh", "en"],
        default="zh",
        help="language of the messages, outcome labels and result workbook: zh (Chinese) or en (default: %(default)s)",
    )
    upload.set_defaults(handler=_import)
    return parser


def _key_parsers(sub: Any) -> None:
    keys = sub.add_parser("keys", help="a tenant's API keys: create, list, rotate, revoke")
    keys_sub = keys.add_subparsers(dest="key_command", required=True)
    create = keys_sub.add_parser("create", help="a new key; prints it once")
    create.add_argument("--name", required=True, help="what the key is for (shown as the orders' producer)")
    create.add_argument("--scopes", required=True, help="comma-separated: read,import,push,admin")
    listing = keys_sub.add_parser("list", help="the tenant's keys (never their secrets)")
    rotate = keys_sub.add_parser("rotate", help="a successor of a key; the old one works for the overlap")
    rotate.add_argument("key_id")
    rotate.add_argument("--overlap", default="24h", help="how long the old key keeps working (default: %(default)s)")
    revoke = keys_sub.add_parser("revoke", help="refuse a key from now on")
    revoke.add_argument("key_id")
    for command in (create, listing, rotate, revoke):
        command.add_argument("--tenant", required=True, help="the tenant's id")
        command.set_defaults(handler=_keys)


def _dlq_parser(sub: Any) -> None:
    dlq = sub.add_parser("dlq", help="dead letters of orders.ingest.v1: list them, replay them after a fix")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = dlq_sub.add_parser("list", help="letters matching the filters, with counts by reason")
    replay = dlq_sub.add_parser("replay", help="re-publish matching letters to orders.ingest.v1 (each once)")
    for command in (listing, replay):
        command.add_argument("--reason", help="x-reason-code, e.g. unknown_tenant")
        command.add_argument("--tenant", help="the tenant id the letter's key names")
        command.add_argument("--since", help="dead-lettered at or after (ISO 8601, e.g. 2026-12-01T08:00+08:00)")
        command.add_argument("--until", help="dead-lettered before (ISO 8601)")
        command.add_argument("--limit", type=int, default=1000, help="letters listed (default: %(default)s)")
        command.add_argument("--json", action="store_true", help="print one JSON document")
        command.set_defaults(handler=_dlq)
    replay.add_argument("--dry-run", action="store_true", help="say what would be replayed; send nothing")
    replay.add_argument("--force", action="store_true", help="replay letters that were replayed before, too")


def _customers_parser(sub: Any) -> None:
    customers = sub.add_parser("customers", help="customers' personal data (PIPL)")
    customers_sub = customers.add_subparsers(dest="customers_command", required=True)
    erase = customers_sub.add_parser("erase", help="erase a customer's personal data; order facts stay, anonymised")
    erase.add_argument("customer_id")
    erase.add_argument("--tenant", required=True, help="the customer's tenant id")
    erase.add_argument("--by", default=None, help="who asked, for the audit record (default: the OS user)")
    erase.set_defaults(handler=_customers)
    mask = customers_sub.add_parser("mask-mobiles", help="answer a tenant's API callers with masked mobiles")
    mask.add_argument("--tenant", required=True)
    mask.add_argument("state", choices=["on", "off"])
    mask.set_defaults(handler=_customers)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ModuleNotFoundError as exc:  # `seed`, `verify`, `run` use tools/, which the service image does not ship
        if (exc.name or "").split(".")[0] != "tools":
            raise
        print(f"orderinfo {args.command}: needs tools/ from a checkout of Order Info", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
