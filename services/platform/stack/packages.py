"""Installing the Debian packages the local stack needs, where we can (root with apt), else saying how."""

from __future__ import annotations

import os
import shutil
import subprocess

from services.platform.stack.process import StackError

_updated = False


def ensure_command(command: str, package: str) -> str:
    """The path of `command`; installs `package` with apt when it is missing and we are root."""
    found = shutil.which(command)
    if found:
        return found
    apt_install(package)
    found = shutil.which(command)
    if not found:
        raise StackError(f"{command} is missing: run `sudo apt-get update && sudo apt-get install -y {package}`")
    return found


def apt_install(package: str) -> None:
    """`apt-get install -y package` when we are root and apt exists; otherwise a StackError with the command."""
    global _updated
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise StackError(f"{package} is missing: run `sudo apt-get update && sudo apt-get install -y {package}`")
    print(f"installing {package} from Debian packages ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _updated:
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, env=env)
        _updated = True
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", package], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        raise StackError(f"apt-get install {package} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
