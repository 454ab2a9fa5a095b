"""Processes the local stack starts: launched detached, recorded by pid, stopped only by that pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class StackError(RuntimeError):
    """A stack step failed; the message says what, where the logs are and shows their tail."""


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def failure(what: str, log: Path) -> StackError:
    return StackError(f"{what}\n  log: {log}\n  last lines:\n{tail(log)}")


def read_pid(pid_file: Path) -> int | None:
    """The recorded pid if that process is still alive and still ours (same command marker), else None."""
    try:
        pid_text, _, marker = pid_file.read_text().partition("\n")
        pid = int(pid_text)
    except (FileNotFoundError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except FileNotFoundError:
        return None
    if marker.strip() and marker.strip() not in cmdline:
        return None  # the pid was reused by an unrelated process
    return pid


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    pid_file: Path,
    marker: str,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> int:
    """Start `argv` in its own session with output to `log`; record its pid and a marker found in its cmdline."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            user=user,
        )
    pid_file.write_text(f"{proc.pid}\n{marker}\n")
    return proc.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is dead for our purposes
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def stop_pid(pid: int, *, timeout: float = 20.0) -> None:
    """SIGTERM (clean shutdown), then SIGKILL when it has not exited within `timeout` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_until(lambda: not alive(pid), wait):
            _reap(pid)
            return
    raise StackError(f"process {pid} did not exit after SIGKILL")


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; True when it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
