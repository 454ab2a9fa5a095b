"""docs/import-template.md is generated from the template's single source of truth and must not drift."""

from __future__ import annotations

from pathlib import Path

from services.ingest.domain.template import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "import-template.md"


def test_template_doc_matches_the_code() -> None:
    assert render_markdown().strip() in DOC.read_text(), (
        "regenerate: python -m services.ingest.domain.template (see the first lines of docs/import-template.md)"
    )


def test_importing_doc_shows_the_vocabulary_of_both_languages_as_the_code_has_it() -> None:
    from services.ingest.domain.language import render_vocabulary_markdown

    text = (DOC.parent / "importing.md").read_text()
    block = text.split("<!-- vocabulary:", 1)[1].split("-->", 1)[1].split("<!-- /vocabulary -->", 1)[0]
    assert block.strip() == render_vocabulary_markdown().strip(), (
        "regenerate the block between the vocabulary markers: python -m services.ingest.domain.language"
    )


def test_importing_doc_pictures_exist() -> None:
    for lang in ("zh", "en"):
        assert (DOC.parent / "importing" / f"template-{lang}.png").stat().st_size > 10_000
