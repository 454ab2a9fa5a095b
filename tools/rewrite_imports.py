"""Rewrite imports of modules that moved (issue 14) to their new places: `python -m tools.rewrite_imports [PATH...]`.

Handles `import a.b`, `from a.b import x` and `from a import b, c` (a module list split by where each module went).
Run it after merging a branch written against the old tree; it is idempotent and prints the files it changed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MOVED: dict[str, str] = {
    "services.ingest.domain.order": "services.core.order",
    "services.ingest.domain.status": "services.core.status",
    "services.ingest.domain.bounds": "services.core.bounds",
    "services.rules_bridge.domain.changes": "services.core.changes",
    "services.rules_bridge.outbox": "services.rules_bridge.outbox_writer",
    "services.rules_bridge.adapters.publisher": "services.rules_bridge.adapters.outbox_publisher",
    "services.rules_bridge.contracts.catalog": "tools.catalog",
    "services.rules_bridge.contracts.examples": "tools.contract_examples",
    "services.verification": "tools.verification",
    "services.ingest.seeding": "tools.seeding",
    "services.ingest.samples": "tools.samples",
    "services.ingest.domain.sheets": "services.ingest.adapters.spreadsheet_reader",
    "services.ingest.domain.archive": "services.ingest.adapters.xlsx_archive",
    "services.ingest.domain.importing": "services.ingest.application.parsing",
    "services.ingest.domain.rows": "services.ingest.domain.spreadsheet.rows",
    "services.ingest.domain.validation": "services.ingest.domain.spreadsheet.values",
    "services.ingest.domain.template": "services.ingest.domain.spreadsheet.template",
    "services.ingest.domain.grouping": "services.ingest.domain.spreadsheet.split",
    "services.ingest.domain.issues": "services.ingest.domain.spreadsheet.issues",
    "services.ingest.domain.options": "services.ingest.domain.spreadsheet.options",
    "services.ingest.domain.times": "services.core.times",
    "services.ingest.entrypoints.http.schemas": "services.ingest.application.answers",
    "services.ingest.entrypoints.http.downloads": "services.ingest.application.downloads",
    # near-homonyms: API keys apart from message keys (`core/keys.py`), the writer beside the reader
    "services.ingest.domain.keys": "services.ingest.domain.api_keys",
    "services.ingest.adapters.spreadsheets": "services.ingest.adapters.spreadsheet_writer",
    "services.ingest.entrypoints.key_commands": "services.ingest.entrypoints.keys_cli",  # beside dead_letters_cli
}
# Names that moved to another module: (old module, name) -> new module.
MOVED_NAMES: dict[tuple[str, str], str] = {
    ("services.ingest.entrypoints.http.app", "create_app"): "services.ingest.main",  # create_app(settings=None)
    ("services.ingest.entrypoints.http.app", "INTERRUPTED_AFTER"): "services.ingest.main",
    # the console and the API share these (the console imports no `entrypoints.http` module)
    ("services.ingest.entrypoints.http.problems", "ApiProblem"): "services.ingest.errors",
    ("services.ingest.entrypoints.http.problems", "Problem"): "services.ingest.errors",
    ("services.ingest.entrypoints.http.limits", "UploadSlots"): "services.ingest.application.uploads",
    ("services.ingest.entrypoints.http.masking", "masked_customer"): "services.ingest.application.answers",
    ("services.ingest.entrypoints.http.masking", "masked_order"): "services.ingest.application.answers",
}
_FROM_LIST = re.compile(
    r"^(?P<indent>[ \t]*)from (?P<pkg>[\w.]+) import (?P<names>[\w, ]+?)(?P<tail>[ \t]*(#.*)?)$", re.M
)
_DOTTED = re.compile(r"(?<![\w.])(?P<mod>services(?:\.\w+)+)")


def new_name(module: str) -> str:
    """Where `module` (or the module it is inside of) lives now."""
    for old, new in MOVED.items():
        if module == old or module.startswith(old + "."):
            return new + module[len(old) :]
    return module


def _split_from_list(match: re.Match[str]) -> str:
    """`from services.ingest.domain import bounds, issues` -> one line per package the modules went to (and
    `from services.ingest.entrypoints.http.app import create_app, server_options` -> one line per module)."""
    pkg, names = match["pkg"], [n.strip() for n in match["names"].split(",") if n.strip()]
    if not any(f"{pkg}.{n}" in MOVED or (pkg, n) in MOVED_NAMES for n in names):
        return match.group(0)
    by_package: dict[str, list[str]] = {}
    for name in names:
        target = MOVED.get(f"{pkg}.{name}") or f"{MOVED_NAMES.get((pkg, name), pkg)}.{name}"
        parent, _, leaf = target.rpartition(".")
        alias = "" if leaf == name else f" as {name}"
        by_package.setdefault(parent, []).append(leaf + alias)
    indent = match["indent"]
    lines = [f"{indent}from {parent} import {', '.join(leaves)}" for parent, leaves in by_package.items()]
    return "\n".join(lines) + match["tail"]


def rewrite(text: str) -> str:
    text = _FROM_LIST.sub(_split_from_list, text)
    return _DOTTED.sub(lambda m: new_name(m["mod"]), text)


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [Path("services"), Path("tests"), Path("benchmarks"), Path("tools")]
    for root in roots:
        for path in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            if path.name == "rewrite_imports.py":
                continue
            old = path.read_text()
            new = rewrite(old)
            if new != old:
                path.write_text(new)
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
