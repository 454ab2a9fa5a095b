"""`tools/rewrite_imports.py`: imports of moved modules are rewritten to their new places, and none is left."""

from __future__ import annotations

from pathlib import Path

from tools.rewrite_imports import rewrite

ROOT = Path(__file__).resolve().parents[2]


def test_module_imports_follow_their_modules() -> None:
    before = (
        "from services.ingest.domain.order import Order  # the model\n"
        "import services.verification.env\n"
        "    from services.rules_bridge.outbox import emit_events\n"
    )
    assert rewrite(before) == (
        "from services.core.order import Order  # the model\n"
        "import tools.verification.env\n"
        "    from services.rules_bridge.outbox_writer import emit_events\n"
    )


def test_a_module_list_is_split_by_where_each_module_went() -> None:
    assert rewrite("from services.ingest.domain import bounds, planning, validation\n") == (
        "from services.core import bounds\n"
        "from services.ingest.domain import planning\n"
        "from services.ingest.domain.spreadsheet import values as validation\n"
    )


def test_moved_names_follow_their_new_module() -> None:
    assert rewrite("from services.ingest.entrypoints.http.app import create_app, server_options\n") == (
        "from services.ingest.main import create_app\nfrom services.ingest.entrypoints.http.app import server_options\n"
    )


def test_rewriting_twice_changes_nothing_more() -> None:
    once = rewrite("from services.ingest.domain import bounds, issues\nx = 'services.ingest.samples'\n")
    assert rewrite(once) == once


def test_no_file_of_the_tree_still_imports_a_moved_module() -> None:
    """After merging a branch written against the old tree this names its files: `python -m tools.rewrite_imports`."""
    skipped = {"rewrite_imports.py", "test_rewrite_imports.py"}
    paths = [p for tree in ("services", "tools", "tests", "benchmarks") for p in sorted((ROOT / tree).rglob("*.py"))]
    stale = [str(p.relative_to(ROOT)) for p in paths if p.name not in skipped and rewrite(t := p.read_text()) != t]
    assert stale == []
