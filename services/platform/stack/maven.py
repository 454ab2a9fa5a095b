"""Jars from Maven Central into a cache folder: `mvn dependency:copy-dependencies` on a pom, once per folder.

A folder is complete when its stamp exists: the jars are copied into a `.partial` sibling, checked, and only then
renamed into place, so an interrupted or failed download is redone on the next call and never half used.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from services.platform.stack.packages import ensure_command
from services.platform.stack.process import StackError

STAMP = ".complete"
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # mvn colours its messages even in batch mode
_MISSING = re.compile(
    r"(?:Could not find artifact|Could not transfer artifact|Failure to find) (\S+)|(\S+:\S+) was not found in"
)


@dataclass(frozen=True)
class Artifact:
    """Maven coordinates; `exclude` names transitive dependencies left out, as "group:artifact" ("*" allowed)."""

    group: str
    name: str
    version: str
    exclude: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.group}:{self.name}:{self.version}"


class ResolveError(StackError):
    """`mvn` could not copy the jars; `artifact` names the one it could not find, when its output says."""

    def __init__(self, message: str, artifact: str | None = None) -> None:
        super().__init__(message)
        self.artifact = artifact


def pom(name: str, dependencies: Sequence[Artifact]) -> str:
    """A packaging-pom project that depends on `dependencies` (runtime scope)."""
    deps = "".join(
        f"    <dependency><groupId>{escape(a.group)}</groupId><artifactId>{escape(a.name)}</artifactId>"
        f"<version>{escape(a.version)}</version>{_exclusions(a.exclude)}</dependency>\n"
        for a in dependencies
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        f"  <modelVersion>4.0.0</modelVersion>\n  <groupId>orderinfo.local</groupId>\n"
        f"  <artifactId>{escape(name)}</artifactId>\n  <version>1</version>\n  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{deps}  </dependencies>\n</project>\n"
    )


def _exclusions(excluded: Sequence[str]) -> str:
    if not excluded:
        return ""
    pairs = (name.split(":", 1) for name in excluded)
    inner = "".join(
        f"<exclusion><groupId>{escape(g)}</groupId><artifactId>{escape(a)}</artifactId></exclusion>" for g, a in pairs
    )
    return f"<exclusions>{inner}</exclusions>"


def missing_artifact(output: str) -> str | None:
    """The coordinates of the artifact `mvn` reports it could not resolve (None when its output names none)."""
    found = _MISSING.search(output)
    return (found.group(1) or found.group(2)) if found else None


def is_complete(target: Path, stamp: str) -> bool:
    try:
        return (target / STAMP).read_text() == stamp
    except OSError:
        return False


def copy_dependencies(
    pom_text: str, target: Path, *, stamp: str, check: Callable[[Path, str], str | None] | None = None
) -> Path:
    """Resolve the runtime dependencies of `pom_text` into `target` unless its stamp (holding `stamp`) says it is
    complete. `check(folder, mvn_output)` may return a problem with the copied jars, which fails the resolution."""
    if is_complete(target, stamp):
        return target
    mvn = ensure_command("mvn", "maven")
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tempfile.TemporaryDirectory() as work:
        Path(work, "pom.xml").write_text(pom_text)
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    output = _COLOUR.sub("", result.stdout + result.stderr)
    problem = f"mvn exit {result.returncode}" if result.returncode else (check(partial, output) if check else None)
    if problem:
        shutil.rmtree(partial, ignore_errors=True)  # never left where a plugin scan or a later run would see it
        artifact = missing_artifact(output) if result.returncode else None
        named = f" ({artifact} is not to be had)" if artifact else ""
        detail = f":\n{output[-3000:]}" if result.returncode else ""
        raise ResolveError(f"{problem}{named}{detail}", artifact)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / STAMP).write_text(stamp)
    return target
