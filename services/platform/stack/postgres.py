"""PostgreSQL from Debian's binaries in a project-owned data folder, run as a non-root user when we are root."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from services.platform.stack.packages import apt_install
from services.platform.stack.process import StackError, failure, port_free, read_pid, stop_pid
from services.platform.stack.settings import StackSettings

_MARKER = "postgres"


def binaries() -> Path:
    """The newest `/usr/lib/postgresql/*/bin` (Debian layout); installs the package when we can."""
    found = _newest_bin()
    if found is None:
        apt_install("postgresql")
        found = _newest_bin()
    if found is None:
        raise StackError("PostgreSQL is missing: run `sudo apt-get update && sudo apt-get install -y postgresql`")
    return found


def _newest_bin() -> Path | None:
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def _run_as(settings: StackSettings) -> str | None:
    return settings.postgres_os_user if os.geteuid() == 0 else None


def _home(settings: StackSettings) -> Path:
    """Our folder for PostgreSQL; when root runs us from a folder the server's OS user cannot reach, a /var/tmp one."""
    home = settings.home / "postgres"
    user = _run_as(settings)
    if user is None or _reachable_by(user, settings.home):
        return home
    digest = hashlib.sha1(str(home).encode()).hexdigest()[:12]
    return Path("/var/tmp/orderinfo-stack") / digest / "postgres"


def _reachable_by(user: str, folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(folder)], capture_output=True, check=False)
    return probe.returncode == 0


def _paths(settings: StackSettings) -> dict[str, Path]:
    home = _home(settings)
    return {"home": home, "data": home / "data", "run": home / "run", "log": home / "postgres.log"}


def status(settings: StackSettings) -> int | None:
    pid_file = _paths(settings)["data"] / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError):
        return None
    marker_file = _paths(settings)["home"] / "postgres.pid"
    marker_file.write_text(f"{pid}\n{_MARKER}\n")
    return read_pid(marker_file)


def _command(settings: StackSettings, argv: list[str]) -> subprocess.CompletedProcess[str]:
    user = _run_as(settings)
    full = ["runuser", "-u", user, "--", *argv] if user else argv
    return subprocess.run(full, capture_output=True, text=True, check=False, cwd="/")


def start(settings: StackSettings) -> str:
    paths = _paths(settings)
    if status(settings) is not None:
        _ensure_database(settings)
        return f"postgres already running on 127.0.0.1:{settings.postgres_port}"
    if not port_free(settings.postgres_port):
        raise StackError(
            f"port {settings.postgres_port} is taken by another process: set "
            "ORDERINFO_STACK_POSTGRES_PORT, or point DATABASE_URL at that server"
        )
    bin_dir = binaries()
    for key in ("home", "run"):
        paths[key].mkdir(parents=True, exist_ok=True)
    user = _run_as(settings)
    if user:
        pw = pwd.getpwnam(user)
        for folder in (paths["home"], paths["run"]):
            os.chown(folder, pw.pw_uid, pw.pw_gid)
    if not (paths["data"] / "PG_VERSION").exists():
        shutil.rmtree(paths["data"], ignore_errors=True)
        init = _command(
            settings,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(paths["data"]),
                "-U",
                settings.postgres_user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
        )
        if init.returncode != 0:
            raise StackError(f"initdb failed:\n{init.stdout}{init.stderr}")
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={settings.postgres_port} "
        f"-c unix_socket_directories={paths['run']} -c max_connections=200 -c shared_buffers=256MB"
    )
    started = _command(
        settings,
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(paths["data"]),
            "-l",
            str(paths["log"]),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
    )
    if started.returncode != 0:
        raise failure(f"PostgreSQL did not start: {started.stdout}{started.stderr}", paths["log"])
    _ensure_database(settings)
    return f"postgres started on 127.0.0.1:{settings.postgres_port} (data {paths['data']})"


def _ensure_database(settings: StackSettings) -> None:
    bin_dir = binaries()
    conn = ["-h", "127.0.0.1", "-p", str(settings.postgres_port), "-U", settings.postgres_user]
    exists = _command(
        settings,
        [
            str(bin_dir / "psql"),
            *conn,
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{settings.postgres_database}'",
        ],
    )
    if exists.returncode != 0:
        raise failure(f"cannot query PostgreSQL: {exists.stderr}", _paths(settings)["log"])
    if exists.stdout.strip() != "1":
        made = _command(settings, [str(bin_dir / "createdb"), *conn, settings.postgres_database])
        if made.returncode != 0:
            raise StackError(f"createdb failed: {made.stderr}")


def stop(settings: StackSettings) -> str:
    pid = status(settings)
    if pid is None:
        return "postgres not running"
    stopped = _command(
        settings,
        [str(binaries() / "pg_ctl"), "-D", str(_paths(settings)["data"]), "-m", "fast", "-w", "-t", "30", "stop"],
    )
    if stopped.returncode != 0:
        stop_pid(pid)
    return f"postgres stopped (pid {pid})"
