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


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(digest(Path(name)))
