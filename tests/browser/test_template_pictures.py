"""Pictures of the import template in both languages for docs/importing.md, taken from the real workbook.

The workbook `GET /v1/imports/template.xlsx?lang=...` serves is built, read back with openpyxl, rendered as an
HTML sheet (column letters, row numbers, the header row with required columns shaded, the example row, the status
drop-down and the first header's comment) and photographed by Chromium into docs/importing/template-{zh,en}.png.
Needs Chromium (and a CJK font for the Chinese one); no service.
"""

from __future__ import annotations

import html
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from services.ingest.adapters.spreadsheet_writer import build_template
from services.ingest.domain.language import Lang, column_header
from services.ingest.domain.spreadsheet.template import COLUMNS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PICTURES = Path(__file__).resolve().parents[2] / "docs" / "importing"
BAND = 12  # columns per band: the 24 columns as two bands stacked, so the picture fits a page

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed")

CSS = """
body { font: 13px "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; margin: 16px; background: #fff; }
h1 { font-size: 15px; margin: 0 0 8px; }
table { border-collapse: collapse; margin-bottom: 14px; table-layout: fixed; }
td, th { border: 1px solid #c8c8c8; padding: 3px 6px; white-space: nowrap; overflow: hidden; width: 108px; }
th { background: #f0f0f0; color: #555; font-weight: normal; text-align: center; }
th.n { width: 26px; }
td.h { font-weight: bold; }
td.req { background: #fff2cc; }
.notes { display: flex; gap: 16px; }
.box { border: 1px solid #999; padding: 6px 10px; background: #ffffe1; white-space: pre-line; max-width: 520px; }
.list { border: 1px solid #999; padding: 0; background: #fff; }
.list div { padding: 2px 10px; }
.list div:first-child { background: #0b64c0; color: #fff; }
"""


def _sheet_html(data: bytes, title: str) -> str:
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    header = [sheet.cell(row=1, column=c) for c in range(1, len(COLUMNS) + 1)]
    example = [sheet.cell(row=2, column=c).value or "" for c in range(1, len(COLUMNS) + 1)]
    bands = []
    for start in range(0, len(COLUMNS), BAND):
        cols = range(start, min(start + BAND, len(COLUMNS)))
        letters = "".join(f"<th>{get_column_letter(c + 1)}</th>" for c in cols)
        heads = "".join(
            f'<td class="h{" req" if header[c].fill.fgColor.rgb not in (None, "00000000") else ""}">'
            f"{html.escape(str(header[c].value))}</td>"
            for c in cols
        )
        values = "".join(f"<td>{html.escape(str(example[c]))}</td>" for c in cols)
        bands.append(
            f'<table><tr><th class="n"></th>{letters}</tr><tr><th class="n">1</th>{heads}</tr>'
            f'<tr><th class="n">2</th>{values}</tr></table>'
        )
    statuses = _status_list(sheet)
    comment = html.escape(header[0].comment.text if header[0].comment else "")
    drop_down = "".join(f"<div>{html.escape(s)}</div>" for s in statuses)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)} — {html.escape(sheet.title)}</h1>{''.join(bands)}"
        f"<div class='notes'><div class='box' id='comment'>{comment}</div>"
        f"<div class='list' id='statuses'>{drop_down}</div></div></body></html>"
    )


def _status_list(sheet: Any) -> list[str]:
    status_letter = get_column_letter(next(i for i, c in enumerate(COLUMNS, 1) if c.key == "status"))
    for validation in sheet.data_validations.dataValidation:
        if str(validation.sqref).startswith(f"{status_letter}2"):
            return list(validation.formula1.strip('"').split(","))
    return []


@pytest.mark.parametrize(("lang", "title"), [(Lang.ZH, "订单导入模板"), (Lang.EN, "Order import template")])
def test_template_pictures_for_the_docs(lang: Lang, title: str) -> None:
    from playwright.sync_api import sync_playwright

    page_html = _sheet_html(build_template(lang), title)
    PICTURES.mkdir(parents=True, exist_ok=True)
    target = PICTURES / f"template-{lang.value}.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1460, "height": 400}, device_scale_factor=1)
            page.set_content(page_html)
            shown, statuses = page.inner_text("body"), page.inner_text("#statuses")
            page.screenshot(path=str(target), full_page=True)
        finally:
            browser.close()
    assert all(column_header(c, lang) in shown for c in COLUMNS)
    assert ("已付款" if lang is Lang.ZH else "Paid") in statuses
    assert target.stat().st_size > 10_000
