"""Which encoding a JSON value that is not UTF-8 was written in (pure): for a refusal that says so.

JSON between systems is UTF-8 without a byte-order mark (RFC 8259, 8.1), and that is all Order Info reads. A value
written by a Windows tool is often UTF-16 (with or without a BOM) or UTF-8 with a BOM, and some write UTF-32: they
are refused as `invalid_encoding` naming what was seen, not as JSON that fails to parse. A byte-order mark names its
encoding; without one, the zero bytes among the first four tell UTF-16 and UTF-32, since a JSON text starts with an
ASCII character (RFC 4627, 3). Called only for a value already refused: a valid one pays nothing for it.
"""

from __future__ import annotations

_WITH_BOM = " with a byte-order mark"
# Longest first: the UTF-32 little-endian mark starts with the UTF-16 one.
_MARKS = (
    (b"\x00\x00\xfe\xff", f"UTF-32 (big-endian,{_WITH_BOM})"),
    (b"\xff\xfe\x00\x00", f"UTF-32 (little-endian,{_WITH_BOM})"),
    (b"\xef\xbb\xbf", f"UTF-8{_WITH_BOM}"),
    (b"\xfe\xff", f"UTF-16 (big-endian,{_WITH_BOM})"),
    (b"\xff\xfe", f"UTF-16 (little-endian,{_WITH_BOM})"),
)


def foreign_encoding(value: bytes) -> str | None:
    """The encoding `value` is in when it is not plain UTF-8 JSON text ("UTF-16 (little-endian)", "UTF-8 with a
    byte-order mark"...); None when it looks like UTF-8 (or like nothing known)."""
    for mark, name in _MARKS:
        if value.startswith(mark):
            return name
    head = [byte != 0 for byte in value[:4]]
    if len(head) < 4:
        return None
    return _BY_ZEROS.get((head[0], head[1], head[2], head[3]))


# The first four bytes of a JSON text (an ASCII character first), by which are not zero (RFC 4627, 3).
_BY_ZEROS = {
    (False, False, False, True): "UTF-32 (big-endian)",
    (True, False, False, False): "UTF-32 (little-endian)",
    (False, True, False, True): "UTF-16 (big-endian)",
    (True, False, True, False): "UTF-16 (little-endian)",
}


def encoding_problem(what: str, encoding: str) -> str:
    """The refusal of `what` ("the value", "the body") seen in `encoding` (`foreign_encoding`)."""
    return f"{what} is {encoding}: JSON must be UTF-8, without a byte-order mark"
