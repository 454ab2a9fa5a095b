"""`orderinfo verify`: run every fault scenario against a fresh database and topic prefix on the running local stack
(and a private stack for the broker/PostgreSQL restarts), then print one line per scenario."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from services.platform.settings import ConnectionSettings
from services.platform.topics import delete_topics_with_prefix
from tools.verification.env import VerifyEnv, fresh_database, private_stack
from tools.verification.scenarios import RESTART_SCENARIOS, SHARED_SCENARIOS, ScenarioReport

COLUMNS = ("scenario", "injected", "orders exp/found", "events exp/found", "duplicates", "verdict")


def table(reports: Sequence[ScenarioReport]) -> str:
    """The reports as a plain-text table; problems of failed scenarios are listed below it."""
    rows = [
        (
            r.name,
            r.injected,
            f"{r.orders_expected}/{r.orders_found}",
            f"{r.events_expected}/{r.events_found}",
            f"{r.duplicate_events}" + (" (same ids)" if r.duplicates_identical else " (DIFFERENT)"),
            f"{r.verdict} ({r.seconds:.0f} s)",
        )
        for r in reports
    ]
    widths = [max(len(str(row[i])) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    lines = [" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in [COLUMNS, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    lines += [f"  {r.name}: {p}" for r in reports for p in r.problems]
    return "\n".join(lines)


async def verify(
    include_restarts: bool = True, workdir: Path | None = None, consumers: int = 1
) -> list[ScenarioReport]:
    base = ConnectionSettings()
    base = base.model_copy(update={"topic_prefix": f"verify-{uuid.uuid4().hex[:6]}.", "topic_partitions": 3})
    work = workdir or Path(tempfile.mkdtemp(prefix="orderinfo-verify-"))
    reports: list[ScenarioReport] = []
    async with fresh_database(base.database_url) as url:
        env = VerifyEnv(base.model_copy(update={"database_url": url}), work, consumers=consumers)
        for scenario in SHARED_SCENARIOS:
            reports.append(await scenario(env))
            print(f"  {reports[-1].name}: {reports[-1].verdict}", file=sys.stderr, flush=True)
    await delete_topics_with_prefix(base.kafka_bootstrap_servers, base.topic_prefix)
    if include_restarts:
        async with private_stack(f"verify-{uuid.uuid4().hex[:6]}.") as private:
            env = VerifyEnv(private.connection, work, private, consumers=consumers)
            for scenario in RESTART_SCENARIOS:
                reports.append(await scenario(env))
                print(f"  {reports[-1].name}: {reports[-1].verdict}", file=sys.stderr, flush=True)
    print(f"  logs: {work / 'logs'}", file=sys.stderr)
    return reports


def consumer_count(text: str) -> int:
    """`--consumers`: a whole number of processes from 1 to 8 (0 or less would still run one, unsaid)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes from 1 to 8, got {text!r}") from None
    if not 1 <= count <= 8:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes from 1 to 8, got {count}")
    return count


def main_verify(argv: Sequence[str] | None = None) -> int:
    """Entry point of `orderinfo verify`; exit status 1 when a scenario did not pass."""
    parser = argparse.ArgumentParser(prog="orderinfo verify", description=__doc__)
    parser.add_argument("--no-restarts", action="store_true", help="skip the scenarios that need the private stack")
    parser.add_argument(
        "--consumers",
        type=consumer_count,
        default=1,
        help="consumer processes per scenario, 1-8 (faults hit one, the others run on)",
    )
    args = parser.parse_args(argv)
    reports = asyncio.run(verify(include_restarts=not args.no_restarts, consumers=args.consumers))
    print(table(reports))
    return 0 if all(r.passed for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main_verify())
