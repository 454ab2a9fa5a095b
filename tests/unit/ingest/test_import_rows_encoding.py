"""The COPY lines of an upload's rows: the fast cell encoding writes what the json module writes."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from services.ingest.adapters import import_jobs


@given(st.lists(st.text()))
def test_cells_are_encoded_as_the_json_module_encodes_them(cells: list[str]) -> None:
    expected = json.dumps(cells, ensure_ascii=False, separators=(",", ":"))
    assert import_jobs._encode_cells(cells) == expected


def test_a_lone_surrogate_falls_back_to_the_json_module() -> None:
    assert import_jobs._encode_cells(["a\ud800"]) == '["a\ud800"]'


def test_a_row_is_one_copy_line_with_its_values_escaped() -> None:
    row = import_jobs.ImportRow(7, None, ["a\tb", "中"], "invalid", "x\\y", "", ("Order No.",))
    [line] = import_jobs.row_columns([row]).lines
    assert line == '7\t\\N\t["a\\\\tb","中"]\tinvalid\tx\\\\y\t\t{"Order No."}'.encode()
