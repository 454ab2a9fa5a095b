"""`orderinfo dlq list|replay`: the dead-letter filters from the command line, printed as text or one JSON document.

Exit codes: 0 done (nothing matching is not an error); 2 a filter could not be read.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from services.ingest.application import dead_letters
from services.ingest.application.dead_letters import Listing
from services.ingest.domain.dead_letters import LetterFilter
from services.ingest.settings import IngestSettings


class BadFilter(ValueError):
    pass


def letter_filter(args: argparse.Namespace) -> LetterFilter:
    """The letters asked for; a window that ends before it starts is refused naming both ends (it matched nothing,
    as if there were no letters), as the admin API refuses it."""
    since, until = _time(args.since, "--since"), _time(args.until, "--until")
    if since is not None and until is not None and until < since:
        raise BadFilter(
            f"--until ({until.isoformat()}) is before --since ({since.isoformat()}): the window is "
            "[--since, --until); swap them"
        )
    return LetterFilter(args.reason, _uuid(args.tenant), since, until)


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError as exc:
        raise BadFilter(f"--tenant: {text!r} is not a tenant id (a UUID)") from exc


def _time(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadFilter(f"{option}: {text!r} is not an ISO 8601 time (e.g. 2026-12-01T08:00+08:00)") from exc
    if at.tzinfo is None:
        raise BadFilter(f"{option}: {text!r} has no UTC offset (add +08:00 or Z)")
    return at


async def run_dlq(pool: Any, args: argparse.Namespace) -> int:
    try:
        where = letter_filter(args)
    except BadFilter as exc:
        print(f"orderinfo dlq {args.dlq_command}: {exc}")
        return 2
    if not 1 <= args.limit <= dead_letters.MAX_LIMIT:  # a replay of `--limit 0` replayed one letter
        print(f"orderinfo dlq {args.dlq_command}: --limit: expected 1 to {dead_letters.MAX_LIMIT:,} letters")
        return 2
    limit = args.limit
    settings = IngestSettings()
    if args.dlq_command == "list":
        listing = await dead_letters.list_letters(settings, pool, where, limit)
        _print(listing, None, args.json)
        return 0
    by = f"cli:{getpass.getuser()}"
    done = await dead_letters.replay(settings, pool, where, limit, by=by, dry_run=args.dry_run, force=args.force)
    _print(done.listing, done, args.json)
    return 0


def _print(listing: Listing, replay: dead_letters.Replay | None, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_document(listing, replay), ensure_ascii=False, indent=2))
        return
    scope = "every letter" if listing.complete else f"the first {listing.scanned} letters (raise --limit)"
    print(f"{len(listing.letters)} dead letters match, of {scope}")
    for reason, count in listing.by_reason.items():
        print(f"  {count:>7}  {reason}")
    if replay is None:
        for letter in listing.letters[:50]:
            row = dead_letters.describe(letter, (letter.partition, letter.offset) in listing.replayed)
            print(f"{row['dead_lettered_at']}  {row['partition']}/{row['offset']}  {row['reason']}  {row['key']}")
        return
    verb = "would replay" if replay.dry_run else "replayed"
    print(f"{verb} {len(replay.replayed)}; skipped {len(replay.skipped)} replayed before (--force to replay them)")


def _document(listing: Listing, replay: dead_letters.Replay | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "matching": len(listing.letters),
        "scanned": listing.scanned,
        "complete": listing.complete,
        "by_reason": listing.by_reason,
        "letters": [dead_letters.describe(x, (x.partition, x.offset) in listing.replayed) for x in listing.letters],
    }
    if replay is not None:
        doc |= {
            "dry_run": replay.dry_run,
            "replayed": [[x.partition, x.offset] for x in replay.replayed],
            "skipped": [[x.partition, x.offset] for x in replay.skipped],
        }
    return doc
