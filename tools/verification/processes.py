"""Service processes started for a scenario: `python -m services.cli consume|relay` (or a verification entry point)
with the connection settings in their environment, output to a log file, stopped by their own pid only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from services.platform.settings import ConnectionSettings

STOP_TIMEOUT_S = 20.0


def service_env(settings: ConnectionSettings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a service process pointed at `settings` (database, broker, topic prefix)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"}}
    env.update(
        ORDERINFO_DATABASE_URL=settings.database_url,
        ORDERINFO_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        ORDERINFO_TOPIC_PREFIX=settings.topic_prefix,
        ORDERINFO_TOPIC_PARTITIONS=str(settings.topic_partitions),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


class ServiceProcess:
    """One subprocess. `kill()` is SIGKILL (a crash); `stop()` is SIGTERM, then SIGKILL after a deadline."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is committed on the way out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> ServiceProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.stop()


class ProcessGroup:
    """Every process a scenario started; `close()` stops all of them (also after a failure)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[ServiceProcess] = []

    def spawn(self, name: str, module_args: list[str], env: dict[str, str]) -> ServiceProcess:
        stamp = f"{time.strftime('%H%M%S')}-{len(self.started)}"
        process = ServiceProcess(name, [sys.executable, "-m", *module_args], env, self.logs / f"{name}-{stamp}.log")
        self.started.append(process.start())
        return process

    def close(self) -> None:
        for process in reversed(self.started):
            process.stop()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
