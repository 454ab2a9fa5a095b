"""One digest per order file of everything `parse_import` answers (or the whole-file error), for the
differential test. Run as a script (`python parse_digests.py FILE...`) it parses with whatever `services`
package comes first on the path, so the same code can digest the files with another implementation."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.ingest.application.parsing import parse_import
from services.ingest.domain.spreadsheet.issues import ImportFileError


def canonical(value: Any) -> Any:
    """`value` spelt out exactly: types, field order, which fields count as set, Decimal exponents, time zones."""
    if isinstance(value, BaseModel):
        fields = [(key, canonical(item)) for key, item in value.__dict__.items()]
        return (type(value).__name__, sorted(value.model_fields_set), fields)
    if isinstance(value, list | tuple):
        return (type(value).__name__, [canonical(item) for item in value])
    if hasattr(value, "__dataclass_fields__"):
        return (type(value).__name__, [(key, canonical(getattr(value, key))) for key in value.__dataclass_fields__])
    return (type(value).__name__, repr(value))


def digest(path: Path) -> str:
    try:
        answer = canonical(parse_import(path.read_bytes(), path.name))
    except ImportFileError as exc:
        answer = ("ImportFileError", exc.code, exc.message)
    return hashlib.sha256(repr(answer).encode()).hexdigest()


def _given_once(check_rows: Any) -> Any:
    """The reference's `check_rows` (rows of cells) with a blank order-level cell taking the cell of its order's
    first row that gives one (`split.fill_order_fields`, a rule added after the reference), stated row by row."""
    from services.ingest.domain.spreadsheet.split import ORDER_LEVEL_KEYS
    from services.ingest.domain.spreadsheet.values import clean

    error_values = {
        "#NULL!",
        "#DIV/0!",
        "#VALUE!",
        "#REF!",
        "#NAME?",
        "#NUM!",
        "#N/A",
        "#GETTING_DATA",
        "#SPILL!",
        "#CALC!",
    }

    def filled(row_nos: Any, cells: Any, fields: Any, rules: Any, **kw: Any) -> Any:
        positions = {spec.column.key: spec.index for spec in fields}
        order, wanted = positions.get("order_no"), [positions[key] for key in ORDER_LEVEL_KEYS if key in positions]
        if order is not None:
            given: dict[tuple[str, int], str] = {}
            for row in cells:
                for position in wanted:
                    if row[order].strip() and row[position] and clean(row[position]) not in error_values:
                        given.setdefault((row[order].strip(), position), row[position])
            cells = [
                [
                    given.get((row[order].strip(), i), "") if i in wanted and text == "" else text
                    for i, text in enumerate(row)
                ]
                for row in cells
            ]
        return check_rows(row_nos, cells, fields, rules, **kw)

    return filled


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reference"]:  # the implementation of `test_import_differential`, with the rules since
        from services.ingest.application import parsing

        parsing.check_rows = _given_once(parsing.check_rows)  # type: ignore[attr-defined]
        del sys.argv[1]
    for name in sys.argv[1:]:
        print(digest(Path(name)))
