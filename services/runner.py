"""`orderinfo run` (what `make run` calls): the stack and every service process in the foreground, with a demo.

Starts the local stack when it is not running (and stops it again at the end), the HTTP API, the ingest consumer
and the rules-bridge relay as child processes whose output is prefixed by name. Ctrl-C (or SIGTERM) stops the
children (SIGTERM, then SIGKILL after a timeout), then what it started of the stack. No stray process remains.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from services.platform.settings import explicit_services
from services.platform.stack import kafka, postgres, stack
from services.platform.stack.process import wait_until
from services.platform.stack.settings import StackSettings

SERVICES = {"api": "\033[36m", "consume": "\033[35m", "relay": "\033[33m"}
RESET = "\033[0m"


def run_everything(*, with_demo: bool) -> int:
    settings = StackSettings()
    kafka_given, database_given = explicit_services()
    was_running = {"kafka": kafka.status(settings) is not None, "postgres": postgres.status(settings) is not None}
    for line in stack.up(settings):
        print(f"stack   | {line}", flush=True)
    # every child process uses the stack's addresses (its ports may be configured), unless given explicitly
    if not kafka_given:
        os.environ["ORDERINFO_KAFKA_BOOTSTRAP_SERVERS"] = settings.kafka_bootstrap
    if not database_given:
        os.environ["ORDERINFO_DATABASE_URL"] = settings.database_url
    children: dict[str, subprocess.Popen[bytes]] = {}
    stopping = threading.Event()

    def on_signal(signum: int, _: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        _migrate()
        for name in SERVICES:
            children[name] = _spawn(name)
        api = _api_url()
        if not wait_until(lambda: _answers(api) or stopping.is_set() or _any_exited(children), 60):
            print("api did not answer within 60 s", file=sys.stderr)
            return 1
        if with_demo and not stopping.is_set() and not _any_exited(children):
            _demo(api, settings)
        print(
            f"\nOrder Info is running: console {api}/console/  ·  API {api}/docs  ·  Ctrl-C stops everything\n",
            flush=True,
        )
        while not stopping.is_set():
            if _any_exited(children):
                print("a service process exited: stopping", file=sys.stderr)
                return 1
            stopping.wait(0.5)
        return 0
    finally:
        _stop_children(children)
        _stop_what_we_started(
            settings,
            kafka_started=not (kafka_given or was_running["kafka"]),
            postgres_started=not (database_given or was_running["postgres"]),
        )


def _api_url() -> str:
    from services.ingest.settings import IngestSettings

    settings = IngestSettings()
    return f"http://{settings.http_host}:{settings.http_port}"


def _stop_what_we_started(settings: StackSettings, *, kafka_started: bool, postgres_started: bool) -> None:
    """Stop only the services this run started: a stack that was already up stays up."""
    if kafka_started:
        print(f"stack   | {kafka.stop(settings)}", flush=True)
    if postgres_started:
        print(f"stack   | {postgres.stop(settings)}", flush=True)


def _migrate() -> None:
    subprocess.run([sys.executable, "-m", "services.cli", "migrate"], check=True)


def _spawn(name: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    threading.Thread(target=_relay_output, args=(name, proc), daemon=True).start()
    return proc


def _relay_output(name: str, proc: subprocess.Popen[bytes]) -> None:
    color = SERVICES[name] if sys.stdout.isatty() else ""
    reset = RESET if color else ""
    assert proc.stdout is not None
    for raw in proc.stdout:
        print(f"{color}{name:<7}{reset} | {raw.decode(errors='replace').rstrip()}", flush=True)


def _any_exited(children: dict[str, subprocess.Popen[bytes]]) -> bool:
    return any(p.poll() is not None for p in children.values())


def _answers(api: str) -> bool:
    try:
        return httpx.get(f"{api}/openapi.json", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in children.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _demo(api: str, settings: StackSettings) -> None:
    """A demo tenant (kept across runs in the stack folder) and an import of the bundled sample file."""
    from services.ingest.entrypoints.upload_client import UploadRequest, upload_and_follow

    key = _demo_key(settings)
    sample = _demo_file(settings.home / "demo" / "sample-orders.xlsx")
    print(f"demo    | importing {sample} for tenant 'demo'", flush=True)
    upload_and_follow(UploadRequest(str(sample), api=api, api_key=key))
    bin_dir = Path(sys.executable).parent
    print(
        "demo    | try, in another shell of this folder:\n"
        f'demo    |   export PATH="{bin_dir}:$PATH" ORDERINFO_API_KEY={key}\n'
        f"demo    |   curl -s -H \"X-API-Key: $ORDERINFO_API_KEY\" '{api}/v1/orders?limit=5'\n"
        f"demo    |   curl -s -H \"X-API-Key: $ORDERINFO_API_KEY\" '{api}/v1/imports'\n"
        f"demo    |   orderinfo import --api {api} {sample}   # again: all unchanged\n"
        f"demo    |   API docs: {api}/docs\n"
        f"demo    |   console:  {api}/console/  (sign in with the key {key})",
        flush=True,
    )


def _demo_file(path: Path) -> Path:
    """300 realistic orders (generated once, deterministically) with two rows broken on purpose, so the demo
    shows row errors and a held-back order as well as created orders."""
    from tools.samples import sample_rows, write_sample_xlsx

    if not path.exists():
        rows = [list(row) for row in sample_rows(300, 2, seed=2026)]
        rows[3][2] = "Teleported"  # an unknown status
        rows[10][11] = 0  # quantity must be positive
        path.parent.mkdir(parents=True, exist_ok=True)
        write_sample_xlsx(path, [tuple(row) for row in rows])
    return path


def _demo_key(settings: StackSettings) -> str:
    key_file = settings.home / "demo-tenant.key"
    if key_file.exists():
        key = key_file.read_text().strip()
        probe = httpx.get(f"{_api_url()}/v1/imports", headers={"X-API-Key": key}, timeout=5)
        if probe.status_code == 200:
            return key
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "tenant", "create", "demo"], capture_output=True, text=True, check=True
    )
    key = out.stdout.strip().rsplit(" ", 1)[-1]
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    return key
