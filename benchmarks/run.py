"""`make bench`: every benchmark in one run, then one summary with the ratios. Figures are printed, never asserted.

    python -m benchmarks.run [--quick] [--with-scale]

Each step runs in a process of its own (`python -m benchmarks.run --step NAME`), so no step's leftovers (a thread
pool, a warmed cache, a collector full of garbage) slow the next one down, and each uses a database and topics of
its own, dropped afterwards; each starts once the machine is quiet (at most 15 % of its CPU busy over a second, or
after a minute, said beside the step's name). A step that fails is reported and the others still run. The summary
holds: the consumer with 1 and 2 processes and the redelivery of the same orders (with CPU per 1,000 orders), the
history case, the relay with 1 and 2 processes against the consumer's event rate, the 5,000-row import from upload to
completed (the headline as deployed: the API and 1 `orderinfo consume` process, both running already; beside it
the same processes' first import, the consumer inside the API's process, and 2 consumer processes), the naive
baseline and the plain-COPY ceiling as ratios, and the push API's orders/s with 4 concurrent clients (`push_api`
skips with a message while `POST /v1/orders:batch` is not in the build), and the consumer against Kafka Connect
with the Debezium JDBC sink on the same workload (`connect`, skipped when a jar cannot be resolved from Maven
Central). `--with-scale` adds the order list and the console at 1,000,000 orders (seeding takes 10-20 minutes each).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

EVENTS_PER_ORDER = 2.6  # events per created order in the consumer's workload (issue 15's measurement)
PUSH_ROUTE = "/v1/orders:batch"
PUSH_CLIENTS = 4


def _plain(value: Any) -> Any:
    """Figures as JSON: dataclasses with their properties (rates, CPU per 1,000)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = dataclasses.asdict(value)
        for name in ("rate", "cpu_per_1000"):
            if hasattr(value, name):
                found[name] = getattr(value, name)
        return found
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def consumer(quick: bool) -> Any:
    from benchmarks import bench_consumer

    return await bench_consumer.run(5000 if quick else 100_000, 6, 2000 if quick else 10_000)


async def connect(quick: bool) -> Any:
    """Kafka Connect + the Debezium JDBC sink on the consumer's workload; skipped when a jar cannot be resolved."""
    from benchmarks import bench_connect
    from services.platform.stack.maven import ResolveError

    try:
        return await bench_connect.run(5000 if quick else 100_000, 6)
    except ResolveError as error:
        print(f"Kafka Connect: skipped ({error.artifact or 'a jar'} could not be resolved):\n{error}")
        return {"skipped": f"{error.artifact or 'a jar'} could not be resolved from Maven Central"}


# The 5,000-row import's shapes, the deployed one first (the headline): (figure's key, label, bench_ingest.run's
# arguments). Each after a warm-up import of another tenant (running processes), but the cold one.
IMPORT_SHAPES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("one_process", "as deployed: the API and 1 `orderinfo consume` process, both running", {"consumers": 1}),
    ("one_process_cold", "the same processes' first import (just started)", {"consumers": 1, "warm": False}),
    ("in_process", "the consumer inside the API's process", {"consumers": 0}),
    ("two_processes", "2 `orderinfo consume` processes", {"consumers": 2}),
)


async def import_5000(quick: bool) -> Any:
    """Seconds from upload to completed in each of `IMPORT_SHAPES` (the deployed one only with `quick`)."""
    from benchmarks import bench_ingest

    found: dict[str, Any] = {}
    for key, label, arguments in IMPORT_SHAPES[:1] if quick else IMPORT_SHAPES:
        print(f"-- {label}", flush=True)
        found[key] = await bench_ingest.run(**arguments)
    return found


async def relay(quick: bool) -> Any:
    from benchmarks import bench_relay

    return await bench_relay.isolated(2000 if quick else 20_000, (1, 2))


async def push_api(quick: bool) -> Any:
    """The push API's orders/s with PUSH_CLIENTS concurrent clients; skipped while the route does not exist."""
    from services.ingest.main import create_app
    from services.ingest.settings import IngestSettings

    routes = create_app(IngestSettings()).openapi()["paths"]  # included routers are not listed in `app.routes`
    if PUSH_ROUTE not in routes:
        print(f"push API: skipped (POST {PUSH_ROUTE} is not in this build)")
        return {"skipped": f"POST {PUSH_ROUTE} is not in this build"}
    bench = _optional_module("benchmarks.bench_push")
    if bench is None:
        print("push API: skipped (the route exists; benchmarks/bench_push.py with `run(clients, batches)` does not)")
        return {"skipped": "no benchmarks.bench_push"}
    found: dict[str, Any] = await bench.run(PUSH_CLIENTS, 1 if quick else 5)  # batches of 1,000 orders per client
    found["rate"] = found["orders"] / found["seconds"] if found.get("seconds") else 0.0
    print(f"push API: {found['rate']:,.0f} orders/s with {PUSH_CLIENTS} clients ({found['orders']:,} orders)")
    return found


def _optional_module(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


def _module(name: str, *args: str) -> Callable[[bool], Coroutine[Any, Any, Any]]:
    """A benchmark that only prints: run as its own module."""

    async def step(quick: bool) -> Any:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", name, *args)
        return {"exit_code": await process.wait()}

    return step


STEPS: dict[str, Callable[[bool], Coroutine[Any, Any, Any]]] = {
    "parse": _module("benchmarks.bench_parse"),
    "import": import_5000,
    "consumer": consumer,
    "connect": connect,
    "relay": relay,
    "push": push_api,
}
SCALE_STEPS = {"queries", "console"}


def _scale_step(name: str, quick: bool) -> Callable[[bool], Coroutine[Any, Any, Any]]:
    orders = "20000" if quick else "1000000"
    return _module(f"benchmarks.bench_{name}", "--orders", orders)


def run_step(name: str, quick: bool, out: Path | None) -> int:
    """One step in this process; its figures go to `out` for the summary, or to stdout when run by hand."""
    step = _scale_step(name, quick) if name in SCALE_STEPS else STEPS[name]
    figures = json.dumps(_plain(asyncio.run(step(quick))), default=str)
    if out is None:
        print(figures)
    else:
        out.write_text(figures)
    return 0


QUIET_BUSY = 0.15  # of the machine's CPU, over one second: what a step waits for before it starts
QUIET_DEADLINE_S = 60.0


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def wait_for_quiet() -> str:
    """Wait (at most `QUIET_DEADLINE_S`) until the machine's CPU was at most `QUIET_BUSY` busy over one second, so
    a step does not start while the previous one's leftovers (a dropped database's checkpoint, an autovacuum, a
    broker deleting topics) still run: those halved a step's figure that followed another. Returns what it saw."""
    if not Path("/proc/stat").exists():  # not Linux: nothing to read the machine's CPU from
        return "machine load not measured (no /proc/stat)"
    deadline = time.monotonic() + QUIET_DEADLINE_S
    waited = time.monotonic()
    while True:
        busy0, total0 = _cpu_times()
        time.sleep(1.0)
        busy1, total1 = _cpu_times()
        busy = (busy1 - busy0) / max(1, total1 - total0)
        if busy <= QUIET_BUSY or time.monotonic() > deadline:
            quiet = "quiet" if busy <= QUIET_BUSY else "still busy"
            return f"machine {quiet}: {busy:.0%} of its CPU busy over 1 s, after {time.monotonic() - waited:.0f} s"


def summary(figures: dict[str, Any]) -> list[str]:
    """The one-run table: each figure with its ratio to the yardsticks; n/a where a step failed or skipped."""
    lines = ["", "== summary (one run; wall-clock figures are noisy on a shared machine, CPU figures less so)"]
    c = figures.get("consumer") or {}
    one, two, again = c.get("one"), c.get("two"), c.get("again")
    naive, ceiling = c.get("naive"), c.get("copy")
    if one:
        lines.append(
            f"consumer, 1 process      {one['rate']:>9,.0f} orders/s  CPU {one['cpu_per_1000']:.3f} core-s/1,000"
        )
        if naive:
            lines.append(f"  vs naive baseline      {one['rate'] / naive:>9.2f}x  ({naive:,.0f} orders/s)")
        if ceiling:
            lines.append(f"  vs plain-COPY ceiling  {one['rate'] / ceiling:>9.0%}   ({ceiling:,.0f} orders/s)")
    if one and two:
        lines.append(
            f"consumer, 2 processes    {two['rate']:>9,.0f} orders/s  ({two['rate'] / one['rate']:.2f}x 1 process)"
        )
    if again:
        lines.append(
            f"redelivered (unchanged)  {again['rate']:>9,.0f} orders/s  CPU {again['cpu_per_1000']:.3f} core-s/1,000"
        )
    if c.get("history"):
        old, new = c["history"]
        lines.append(
            f"history case             {old * 1000:.1f} ms vs {new * 1000:.1f} ms new customer ({old / new:.2f}x)"
        )
    lines += _connect_lines(figures.get("connect") or {}, one, two)
    best = max((r["rate"] for r in (one, two) if r), default=0.0)
    for drain in (figures.get("relay") or {}).get("drains", []):
        ratio = (
            f"  ({drain['rate'] / (best * EVENTS_PER_ORDER):.2f}x the consumer's events at its best)" if best else ""
        )
        lines.append(f"relay, {drain['processes']} process(es)     {drain['rate']:>9,.0f} events/s{ratio}")
    lines += _import_lines(figures.get("import") or {})
    push = figures.get("push") or {}
    lines.append(
        f"push API, {PUSH_CLIENTS} clients       " + (push.get("skipped") or f"{push.get('rate', 0):,.0f} orders/s")
    )
    failed = [name for name, found in figures.items() if found is None]
    if failed:
        lines.append(f"failed steps: {', '.join(failed)} (their output is above)")
    return lines


def _import_lines(found: dict[str, Any]) -> list[str]:
    """The 5,000-row import, upload -> completed: the deployed shape as the headline (with the CPU it cost), the
    others beside it."""
    shapes = [(label, found[key]) for key, label, _ in IMPORT_SHAPES if found.get(key)]
    if not shapes:
        return []
    (label, first), *others = shapes
    consumer = first.get("consumer_cpu_s")
    return [
        f"5,000-row import         {first['seconds']:>9.2f} s upload -> completed ({label})",
        f"{'':25}CPU: upload to the 202 {first['upload_cpu_s']:.2f} s"
        + (f", consumer {consumer:.2f} s" if consumer is not None else "")
        + f", PostgreSQL {first['postgres_cpu_s']:.2f} s",
        *(f"{'':25}{figures['seconds']:>9.2f} s {label}" for label, figures in others),
    ]


def _connect_lines(connect: dict[str, Any], one: dict[str, Any] | None, two: dict[str, Any] | None) -> list[str]:
    """The consumer against Kafka Connect + the Debezium JDBC sink (three connectors: orders, lines, customers),
    1 process against 1 task each, 2 processes against 2 tasks each: orders/s and CPU per 1,000 orders as ratios."""
    if connect.get("skipped"):
        return [f"Kafka Connect + Debezium JDBC: skipped ({connect['skipped']})"]
    cases = connect.get("cases") or []
    lines = [
        f"Connect, {case['label']:<27} {case['rate']:>9,.0f} orders/s  CPU {case['cpu_per_1000']:.3f} core-s/1,000"
        for case in cases
    ]
    full = {case["tasks"]: case for case in cases if case["connectors"] > 1}
    for ours, tasks, name in ((one, 1, "1 process vs 1 task each"), (two, 2, "2 processes vs 2 tasks each")):
        theirs = full.get(tasks)
        if ours and theirs and theirs["rate"] and theirs["cpu_per_1000"]:
            lines.append(
                f"  consumer vs Connect, {name}: {ours['rate'] / theirs['rate']:.2f}x orders/s; CPU per 1,000"
                f" {ours['cpu_per_1000']:.3f} vs {theirs['cpu_per_1000']:.3f} core-s"
                f" ({ours['cpu_per_1000'] / theirs['cpu_per_1000']:.2f}x)"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run of every benchmark)")
    parser.add_argument("--with-scale", action="store_true", help="also the order list and console at 1,000,000")
    parser.add_argument("--step", choices=[*STEPS, *SCALE_STEPS], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        return run_step(args.step, args.quick, args.out)
    names = [*STEPS, *(sorted(SCALE_STEPS) if args.with_scale else [])]
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            print(f"\n== {name}\n({wait_for_quiet()})", flush=True)
            out = Path(folder) / f"{name}.json"
            command = [sys.executable, "-m", "benchmarks.run", "--step", name, "--out", str(out)]
            command += ["--quick"] if args.quick else []
            code = subprocess.run(command, check=False).returncode
            figures[name] = json.loads(out.read_text()) if code == 0 and out.exists() else None
    print("\n".join(summary(figures)))
    return 1 if any(found is None for found in figures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
