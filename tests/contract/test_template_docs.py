"""docs/import-template.md is generated from the template's single source of truth and must not drift."""

from __future__ import annotations

from pathlib import Path

from services.ingest.domain.spreadsheet.template import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "import-template.md"


def test_template_doc_matches_the_code() -> None:
    assert render_markdown().strip() in DOC.read_text(), (
        "regenerate: python -m services.ingest.domain.spreadsheet.template"
        " (see the first lines of docs/import-template.md)"
    )
