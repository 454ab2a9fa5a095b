"""Safety checks of an .xlsx (zip) container, run before calamine sees it.

calamine trusts the container: it allocates a dense grid up to the farthest cell reference (a 5 KB sheet with
cells A1 and XFD1048576 aborts the process), and its zip reader inflates a member past its declared size. So
`inspect_xlsx` guarantees, or raises `ImportFileError`:
- at most `max_archive_members` members, declared sizes within `max_uncompressed_bytes` and a compression ratio
  within `max_compression_ratio` for members above `ratio_checked_from_bytes`;
- every XML part inflates to exactly its declared size (checked with a bounded inflate), is not UTF-16 and holds
  no DTD (`<!DOCTYPE` / `<!ENTITY`), so no entity expansion can happen whatever the XML reader;
- no worksheet (any part holding `sheetData`, wherever the relationships put it) reaches a cell beyond
  `max_columns` or `max_sheet_rows`, by explicit reference or by position:
  OOXML lets a `<row>` or `<c>` leave out its `r` reference (it then follows the previous one), so a sheet whose
  cells carry no reference is walked tag by tag, stopping at the first cell past a bound.
"""

from __future__ import annotations

import collections
import functools
import html
import io
import itertools
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator

from services.ingest.domain.spreadsheet import issues
from services.ingest.domain.spreadsheet.issues import ImportFileError, too_complex
from services.ingest.domain.spreadsheet.options import ImportOptions

_LOCAL_HEADER = struct.Struct("<4s22xHH")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# Only references that can be far away: two or more column letters, or a row number of five digits or more.
# They are searched in the XML with its whitespace removed (so `r = 'A1'` reads `r='A1'`), once per quote
# character, because a fixed `r="` prefix lets the regex engine skip ahead instead of trying every byte.
# (A cell *text* that reads r="ZZ9" may be taken for a reference: the check errs on the side of refusing.)
_XML_WHITESPACE = b" \t\r\n"
_FAR_REFERENCES = tuple(
    re.compile(rb"r=" + quote + rb"(?:([A-Za-z]{2,})(\d*)|[A-Za-z]?(\d{5,}))" + quote) for quote in (b'"', b"'")
)
# What every far reference starts with: one search that finds nothing in a sheet within the bounds, before the
# exact pattern's walk over every match.
_FAR_START = re.compile(rb"""r=["'](?:[A-Za-z]{2}|[A-Za-z]?\d{5})""")

# Fast path: every cell and row written as `<c r=` / `<row r=` (Excel, WPS, openpyxl) has an explicit position,
# so the far references above bound it. Anything else (a namespace prefix, a cell without `r`, `r` not first)
# is walked tag by tag; counting a `:c ` in a cell text as a prefixed tag only sends the sheet to the walk.
_WORKBOOK, _WORKBOOK_RELS = "xl/workbook.xml", "xl/_rels/workbook.xml.rels"
_XML_SUFFIXES = (".xml", ".rels", ".vml")
_SHEET_DATA = b"sheetData"  # what every worksheet holds its cells in (`<sheetData>`, `<x:sheetData>`)
_UTF16_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<")
_ERROR_TYPE = re.compile(rb"\st\s*=\s*[\"']e[\"']")
_CELL_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\s")
_VALUE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v>([^<]*)<")
# A tag's attributes are read up to `MAX_TAG_BYTES`: a `[^>]*>` pattern is quadratic in a part of unclosed tags
# (120 KB of `<c ` took 27 s); each tag pattern ends in `(>?)`, empty for a tag not closed by then, which is refused
# (`_closed`), so each pattern scans a part once.
MAX_TAG_BYTES = 4096
_VALUE_WINDOW = 1024  # how far after an error cell's tag its cached value (`<v>#N/A</v>`) is looked for
_SHEET = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sheet\s([^>]{0,4096})(>?)")
_RELATIONSHIP = re.compile(rb"<Relationship\s([^>]{0,4096})(>?)")
_PREFIXED_TAG = re.compile(rb":(?:c|row)[\s/>]")  # also in a cell text: that only sends the sheet to the walk
# A tag without attributes, not followed by a space, or whose first attribute is not `r=` (one branch per tag
# name, each with its lookahead first: a quarter cheaper than one branch after the name; \f and \v, which XML does
# not take for whitespace, also send the sheet to the walk).
_ODD_TAG = re.compile(rb"<(?:c(?! r=)[\s/>]|row(?! r=)[\s/>])")
_REFERENCE = re.compile(rb"(?:^|\s)r\s*=\s*[\"']([A-Za-z]*)(\d*)[\"']")
# What the walks find, as calamine (quick-xml) reads them: a start (or empty) tag `<row>` or `<c>` with any prefix
# (whatever comes before the name's first colon: `<x:c>`, `<1:c>`, `<:c>`, `<a/:c>`, `<é:c>`; a name ends at XML
# whitespace only), its attributes and `>` (group 3, empty for a tag too long); or an end tag named `row`, with any
# prefix, which ends a row whatever start tag it closes (quick-xml does not check end names: `<a></row>` too).
_PREFIX = rb"(?:[^ \t\r\n<>:]*:)?"
_EVENT = re.compile(
    rb"<(?:(?![/!?])" + _PREFIX + rb"(row|c)(?=[ \t\r\n/>])([^>]{0,4096})(>?)|/" + _PREFIX + rb"row[ \t\r\n]*>)"
)
_CELL_END = re.compile(rb"</" + _PREFIX + rb"c[ \t\r\n]*>")
# The shared strings (`<si>`, any prefix) and the first bytes of each `<v>`'s text, which for a shared-string cell
# is its item's index (`_shared_text`).
_SHARED_STRINGS = "xl/sharedstrings.xml"  # where calamine reads them (whatever the relationships say; any case)
_SHARED_ITEM = re.compile(rb"<(?![/!?])" + _PREFIX + rb"si(?=[ \t\r\n/>])")
_PLAIN_ITEM = re.compile(rb"<si(?=[ \t\r\n/>])")  # the same where no `:si` is written (a literal search)
_VALUE_TEXT = re.compile(
    rb"<(?![/!?])" + _PREFIX + rb"v(?=[ \t\r\n/>])[^>]{0,4096}(?:>([^<]{0,32}(?:<.)?))?", re.DOTALL
)
_PLAIN_VALUE = re.compile(rb"<v>([^<]{0,32}(?:<.)?)", re.DOTALL)  # where each `<v` is `<v>` and no `:v` written
_ODD_VALUE = re.compile(rb"<v[ \t\r\n/]")
_NUMBER_BYTES = b"0123456789.eE+-"  # the text of a number that is no index: no shared text
_ATTRIBUTE = re.compile(rb"([\w:.-]+)[ \t\r\n]*=[ \t\r\n]*(?:\"([^\"]*)\"|'([^']*)')")
_A1 = re.compile(rb"([A-Za-z]{0,3})(\d{0,7})")
# Tags `_walk_data` walks per data row accepted (empty cells and rows, formatting, included): a sheet of
# `max_rows` rows of 25 cells without references is walked whole (5,000 x 26 tags), 1.1 M tags (11,001 x 101,
# what the bounds allow) took 2-5 s of Python.
_WALKED_TAGS_PER_ROW = 30
# What `_data_extent` cuts out of a sheet whose every `<c>` and `<row>` starts with its full reference: an empty
# cell and a row tag whose attributes are plain (quoted values without `<` or `>`, which another reader could
# take for the tag's end or a new tag).
_PLAIN = rb"(?:[ \t\r\n]+[\w:.-]+[ \t\r\n]*=[ \t\r\n]*(?:\"[^\"<>]*\"|'[^'<>]*'))*[ \t\r\n]*"
_EMPTY_CELL = re.compile(
    rb"<c r=(?:\"[A-Za-z]{1,3}\d{1,7}\"|'[A-Za-z]{1,3}\d{1,7}')" + _PLAIN + rb"(?:/>|>[ \t\r\n]*</c[ \t\r\n]*>)"
)
_PLAIN_ATTRIBUTES = re.compile(_PLAIN)
_ROW_TAG = re.compile(rb"<row r=(?:\"\d{1,7}\"|'\d{1,7}')" + _PLAIN + rb"/?>")
_PARTIAL_REFERENCE = re.compile(
    rb"<c r=(?!\"[A-Za-z]{1,3}\d{1,7}\"|'[A-Za-z]{1,3}\d{1,7}')|<row r=(?!\"\d{1,7}\"|'\d{1,7}')"
)


ErrorCells = dict[tuple[int, int], str]  # (row, column), both 1-based -> the error value shown (#N/A, #REF!...)


def inspect_xlsx(data: bytes, options: ImportOptions) -> dict[str, ErrorCells]:
    """Raise `ImportFileError` unless the workbook container is safe to read (see the module docstring).

    Answers the error cells (`t="e"`, which calamine reads as blank) of each sheet that has some, by sheet name."""
    archive = _open(data)
    infos = archive.infolist()
    _check_kind({info.filename for info in infos})
    _check_sizes(infos, options)
    names = _sheet_names(data, infos)
    shared = _shared_lengths(data, infos)
    errors: dict[str, ErrorCells] = {}
    for info in infos:
        xml = _inflate(data, info)
        if not _is_xml(info.filename, xml):
            continue
        _check_xml(info.filename, xml)
        if info.filename.startswith("xl/worksheets/") or _SHEET_DATA in xml:
            _check_extent(names.get(info.filename, info.filename), xml, options)
            _check_shared_text(names.get(info.filename, info.filename), xml, shared, options)
            found = _error_cells(xml)
            if found:
                errors[info.filename] = found
    return {name: errors[part] for part, name in names.items() if part in errors}


def _sheet_names(data: bytes, infos: list[zipfile.ZipInfo]) -> dict[str, str]:
    """Each worksheet part's sheet name (what the user sees, and what a refusal names), by part path; the
    workbook and its relationships are read first (checked like every part), wherever the zip puts them."""
    parts = {}
    for info in infos:
        if info.filename in (_WORKBOOK, _WORKBOOK_RELS):
            parts[info.filename] = _inflate(data, info)
            _check_xml(info.filename, parts[info.filename])
    found = _sheet_parts(parts.get(_WORKBOOK, b""), parts.get(_WORKBOOK_RELS, b""))
    return {part: name for name, part in found.items()}


def _shared_lengths(data: bytes, infos: list[zipfile.ZipInfo]) -> list[int]:
    """An upper bound of the length of each shared string calamine reads, by index: the bytes from its `<si>` to
    the next one (its text and its tags; entity references only shorten a text). A part holding a comment or
    CDATA (`<!`: a `<si>` in it is none to calamine) gives every index the longest item's length."""
    lengths: list[int] = []
    for info in infos:
        if info.filename.lower() != _SHARED_STRINGS:
            continue
        xml = _inflate(data, info)
        _check_xml(info.filename, xml)
        items = _SHARED_ITEM if b":si" in xml else _PLAIN_ITEM
        starts = [match.start() for match in items.finditer(xml)] + [len(xml)]
        found = [end - start for start, end in itertools.pairwise(starts)]
        if b"<!" in xml:
            found = [max(found, default=0)] * len(found)
        lengths = [max(pair) for pair in itertools.zip_longest(lengths, found, fillvalue=0)]
    return lengths


def _check_shared_text(name: str, xml: bytes, lengths: list[int], options: ImportOptions) -> None:
    """Refuse a sheet whose cells reference more than `max_shared_text_bytes` of shared text, each reference
    counted: calamine copies an item's text into every cell referencing it (one 200,000-character text in 2,000
    cells: 800 MB). Every `<v>` is taken for a reference: its text plain digits, the item of that index; a number
    that is no index, none; anything else (an entity, CDATA, a text past 32 bytes), the longest item."""
    if not lengths:
        return
    longest, total = max(lengths), 0
    if xml.count(b"v") * longest <= options.max_shared_text_bytes:  # at most that many `<v>`: no need to count
        return
    values = _VALUE_TEXT if b":v" in xml or _ODD_VALUE.search(xml) else _PLAIN_VALUE
    for value, count in collections.Counter(values.findall(xml)).items():
        text = value[:-2]  # a whole value is followed by its end tag: `0</`
        if not value.endswith(b"</") or text.strip(_NUMBER_BYTES):  # cut, CDATA, an entity, not a number
            total += count * longest
        elif text.isdigit() and int(text) < len(lengths):
            total += count * lengths[int(text)]
    if total > options.max_shared_text_bytes:
        raise ImportFileError(
            issues.WORKBOOK_TOO_COMPLEX,
            too_complex(
                f'sheet "{name}" repeats its shared texts into {total:,} bytes, more than '
                f"{options.max_shared_text_bytes:,} (a long text copied into many cells)"
            ),
        )


def _is_xml(name: str, content: bytes) -> bool:
    """An XML part by its name, or one a reader may take for XML whatever its name: a worksheet (a workbook's
    relationships may name any part as a sheet, `xl/data/orders` as well as `xl/worksheets/sheet1.xml`), or
    UTF-16 text."""
    return name.endswith(_XML_SUFFIXES) or _SHEET_DATA in content or content[:2] in _UTF16_STARTS


def _error_cells(xml: bytes) -> ErrorCells:
    """The referenced cells of type `e` and their cached value; a cell without a reference is left out."""
    found: ErrorCells = {}
    if b'"e"' not in xml and (b"'" not in xml or b"'e'" not in xml):  # what every match needs, found fast
        return found
    read_to = 0  # each search below looks at most `MAX_TAG_BYTES` (or `_VALUE_WINDOW`) away: linear in the part
    for match in _ERROR_TYPE.finditer(xml):
        if match.start() < read_to:
            continue  # another attribute of the tag just read
        start = xml.rfind(b"<", max(0, match.start() - MAX_TAG_BYTES), match.start())
        close = xml.find(b">", match.end(), match.end() + MAX_TAG_BYTES)
        if start < 0 or close < 0:
            continue  # no tag a reader reads as such (a tag this long is refused by the walk when it counts)
        read_to, tag = close, xml[start : close + 1]
        reference = _REFERENCE.search(tag[2:]) if _CELL_START.match(tag) else None
        if not reference or not reference.group(1) or not reference.group(2):
            continue
        end = xml.find(b"</", close, close + _VALUE_WINDOW)
        value = _VALUE.search(xml, close, end + 8 if end >= 0 else close + _VALUE_WINDOW)
        shown = value.group(1).decode("utf-8", "replace")[:16] if value else "#VALUE!"
        found[(int(reference.group(2)[:12]), column_number(reference.group(1)[:4]))] = shown or "#VALUE!"
    return found


def _sheet_parts(workbook: bytes, rels: bytes) -> dict[str, str]:
    """Sheet name -> its part path (xl/worksheets/...), from the workbook and its relationships."""
    targets = {}
    for element in _closed(_RELATIONSHIP, rels, _WORKBOOK_RELS):
        rid, target = _attribute(element, b"Id"), _attribute(element, b"Target")
        if rid and target:
            targets[rid] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    names = {}
    for element in _closed(_SHEET, workbook, _WORKBOOK):
        name, rid = _attribute(element, b"name"), _attribute(element, b"r:id")
        if name and rid in targets:
            names[html.unescape(name)] = targets[rid]
    return names


def _closed(pattern: re.Pattern[bytes], xml: bytes, part: str) -> Iterator[bytes]:
    """The attributes (group 1) of each tag `pattern` finds, refusing a tag not closed within `MAX_TAG_BYTES`."""
    for match in pattern.finditer(xml):
        if not match.group(2) and len(match.group(1)) == MAX_TAG_BYTES:
            raise _tag_too_long(f"Part {part}", match)
        yield b" " + match.group(1)  # (a tag cut short by the part's end: what a reader then fails on)


def _tag_too_long(where: str, match: re.Match[bytes]) -> ImportFileError:
    return ImportFileError(
        issues.UNSAFE_XML,
        f"{where} has a tag longer than {MAX_TAG_BYTES:,} bytes (at byte {match.start():,}), which workbooks "
        "never hold.",
    )


def _attribute(element: bytes, name: bytes) -> str | None:
    found = re.search(rb"\s" + re.escape(name) + rb"\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", element)
    return None if found is None else (found.group(1) or found.group(2) or b"").decode("utf-8", "replace")


def _open(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ImportFileError(
            issues.CORRUPT_WORKBOOK, "The workbook is damaged or truncated (its zip container cannot be read)."
        ) from exc


def _check_kind(names: set[str]) -> None:
    if "xl/workbook.xml" in names:
        return
    if "xl/workbook.bin" in names:
        kind = "an Excel binary workbook (.xlsb)"
    elif "content.xml" in names:
        kind = "an OpenDocument spreadsheet (.ods)"
    else:
        kind = "a zip archive, not an Excel workbook"
    raise ImportFileError(issues.UNSUPPORTED_FORMAT, f"The file is {kind}; save it as .xlsx or CSV.")


def _too_large(detail: str) -> ImportFileError:
    return ImportFileError(issues.ARCHIVE_TOO_LARGE, f"The workbook is refused: {detail} (possible zip bomb).")


def _check_sizes(infos: list[zipfile.ZipInfo], options: ImportOptions) -> None:
    if len(infos) > options.max_archive_members:
        raise _too_large(f"it has {len(infos)} parts, more than {options.max_archive_members}")
    total = sum(info.file_size for info in infos)
    if total > options.max_uncompressed_bytes:
        raise _too_large(f"it unpacks to {total:,} bytes, more than {options.max_uncompressed_bytes:,}")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > options.ratio_checked_from_bytes and ratio > options.max_compression_ratio:
            raise _too_large(f"part {info.filename} is compressed {ratio:,.0f} times")
        if info.flag_bits & 0x1:
            raise ImportFileError(issues.ENCRYPTED_OR_LEGACY, "The workbook is encrypted; remove the password.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ImportFileError(issues.CORRUPT_WORKBOOK, f"Part {info.filename} uses an unsupported compression.")


def _inflate(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """The member's bytes, inflating at most one byte more than declared (a lie about the size is refused)."""
    corrupt = ImportFileError(issues.CORRUPT_WORKBOOK, f"The workbook is damaged (part {info.filename}).")
    header = data[info.header_offset : info.header_offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        raise corrupt
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(header)
    if signature != b"PK\x03\x04":
        raise corrupt
    start = info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
    raw = data[start : start + info.compress_size]
    try:
        content = raw if info.compress_type == zipfile.ZIP_STORED else _bounded_inflate(raw, info.file_size + 1)
    except zlib.error as exc:
        raise corrupt from exc
    if len(content) > info.file_size:
        raise _too_large(f"part {info.filename} holds more than the {info.file_size:,} bytes it declares")
    if len(content) < info.file_size:
        raise corrupt
    return content


def _bounded_inflate(raw: bytes, limit: int) -> bytes:
    return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, limit)


def _check_xml(name: str, xml: bytes) -> None:
    if xml.startswith((b"\xff\xfe", b"\xfe\xff")) or xml[:2] in (b"<\x00", b"\x00<"):
        raise ImportFileError(issues.UNSAFE_XML, f"Part {name} is UTF-16 XML, which is not accepted.")
    if b"!" in xml and _DTD.search(xml):  # a single-byte search first: most sheets hold no "!" at all
        raise ImportFileError(
            issues.UNSAFE_XML, f"Part {name} declares a DTD (<!DOCTYPE>/<!ENTITY>), which workbooks never need."
        )


def column_number(letters: bytes) -> int:
    """Excel column letters to a 1-based number (A=1, Z=26, AA=27)."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _check_extent(name: str, xml: bytes, options: ImportOptions) -> None:
    max_column, max_row = _far_references(xml, options)
    if not _all_referenced(xml):
        walked_column, walked_row = _walk_positions(name, xml, options)
        max_column, max_row = max(max_column, walked_column), max(max_row, walked_row)
    if max_column > options.max_columns or max_row > options.max_sheet_rows:
        max_column, max_row = _data_extent(name, xml, options, (max_column, max_row))
    check_bounds(name, max_column, max_row, options)


def _data_extent(name: str, xml: bytes, options: ImportOptions, extent: tuple[int, int]) -> tuple[int, int]:
    """The farthest column and row of the cells that hold something, for a sheet whose references reach
    `extent`, past a bound.

    calamine allocates its grid for cells holding a value or a child element only: an empty cell (`<c r="Z1048576"
    s="1"/>`, a style applied down to the sheet's last row, as WPS and Excel write it) or a row without cells is
    no cell of the grid. So empty cells and row tags are cut out and every reference left is bounded as before
    (`_far_references`): whatever is not taken for an empty cell or a row (a cell text, a tag not recognised)
    still counts. Cutting them out moves no other cell when every cell carries its full A1 reference (what
    spreadsheet programs write: two C-speed passes); otherwise `_walk_data` places each cell as calamine does."""
    if _all_referenced(xml) and _PARTIAL_REFERENCE.search(xml) is None:
        return _far_references(_ROW_TAG.sub(b"", _EMPTY_CELL.sub(b"", xml)), options)
    return _walk_data(name, xml, options, extent)


def _walk_data(name: str, xml: bytes, options: ImportOptions, extent: tuple[int, int]) -> tuple[int, int]:
    """`_data_extent` of a sheet whose cells may carry no reference: the walk places every `<row>` and `<c>` as
    `_walk_positions` does (an empty cell still places the cells after it that carry none) and counts only the
    cells holding something; the empty ones and the row tags are then cut out for `_far_references`. A tag whose
    attributes another XML reader may read otherwise (a `<` or `>` in a value, an attribute twice) answers
    `extent` unchanged, and so does a walk of more than `_WALKED_TAGS_PER_ROW` tags per data row accepted."""
    row, column, max_column, max_row = 1, 0, 0, 0
    budget = options.max_rows * _WALKED_TAGS_PER_ROW
    kept: list[bytes] = []
    at = 0
    for walked, match in enumerate(_EVENT.finditer(xml)):
        if walked > budget:
            return extent
        tag, attributes, closed = match.groups()
        if tag is None:  # an end tag named row
            row, column = row + 1, 0
            continue
        if not closed:  # too long, or cut short by the part's end (which calamine refuses as damaged)
            if len(attributes) == MAX_TAG_BYTES:
                raise _tag_too_long(f'Sheet "{name}"', match)
            break
        reference = _plain_reference(attributes)
        if reference is None:
            return extent
        letters, digits = reference
        if tag == b"row":
            row, end = int(digits[:12]) if digits else row, match.end()
            if attributes.endswith(b"/"):
                row, column = row + 1, 0
        else:
            column = column_number(letters[:4]) if letters else column + 1
            end = _empty_cell_end(xml, match, attributes)
            if end < 0:
                max_column, max_row = max(max_column, column), max(max_row, int(digits[:12]) if digits else row)
                if max_column > options.max_columns or max_row > options.max_sheet_rows:
                    return max_column, max_row
        if end >= 0:
            kept.append(xml[at : match.start()])
            at = end
    kept.append(xml[at:])
    far_column, far_row = _far_references(b"".join(kept), options)
    return max(max_column, far_column), max(max_row, far_row)


@functools.lru_cache(maxsize=4096)  # a sheet without references repeats its tags' attributes (` s="3"`)
def _plain_reference(attributes: bytes) -> tuple[bytes, bytes] | None:
    """The column letters and row digits of a tag's `r` (empty when it has none), or None when its attributes
    may read otherwise to another XML reader: a value holding `<` or `>` (which ends the tag for a regex, not
    for calamine), an unquoted or unclosed value, an attribute twice, an `r` that is no A1 reference."""
    body = attributes[:-1] if attributes.endswith(b"/") else attributes
    if _PLAIN_ATTRIBUTES.fullmatch(body) is None:
        return None
    pairs = _ATTRIBUTE.findall(body)
    if len({name for name, _, _ in pairs}) != len(pairs):
        return None
    value = next((double or single for name, double, single in pairs if name == b"r"), None)
    if value is None:
        return b"", b""
    reference = _A1.fullmatch(value)
    return None if reference is None else (reference.group(1), reference.group(2))


def _empty_cell_end(xml: bytes, match: re.Match[bytes], attributes: bytes) -> int:
    """Where an empty cell element ends (`<c .../>`, or `<c ...>` and its end tag with only whitespace between),
    or -1 when it holds anything (a value, an inline string, a formula, a comment, text)."""
    if attributes.endswith(b"/"):
        return match.end()
    following = xml.find(b"<", match.end())
    if following < 0 or xml[match.end() : following].strip(_XML_WHITESPACE):
        return -1
    closing = _CELL_END.match(xml, following)
    return -1 if closing is None else closing.end()


def _all_referenced(xml: bytes) -> bool:
    """Whether every `<c>` and `<row>` element is unprefixed and starts with its `r` reference (searched, not
    parsed: two searches that find nothing in what spreadsheet programs write)."""
    return _PREFIXED_TAG.search(xml) is None and _ODD_TAG.search(xml) is None


def _walk_positions(name: str, xml: bytes, options: ImportOptions) -> tuple[int, int]:
    """The farthest column and row reached, each cell placed as calamine places it: a `<row>` with `r` moves to
    that row (without `r`, it stays where the last one ended); every end tag named `row` moves to the next row and
    back to its first column; a cell without `r` takes the next column of the row, one with `r` its own place
    (the cells after it follow its column, not its row). Stops once past a bound (so a hostile sheet costs at
    most `max_columns` cells of a row and `max_sheet_rows` rows), end tags included."""
    row, column, max_column, max_row = 1, 0, 0, 0
    for match in _EVENT.finditer(xml):
        tag, attributes, closed = match.groups()
        if tag is None:  # an end tag named row
            row, column = row + 1, 0
            if row > options.max_sheet_rows:  # past the bound: where cells follow is for `_walk_data` to say
                return max_column, row
            continue
        if not closed:  # too long, or cut short by the part's end (which calamine refuses as damaged)
            if len(attributes) == MAX_TAG_BYTES:
                raise _tag_too_long(f'Sheet "{name}"', match)
            break
        reference = _REFERENCE.search(attributes)
        letters, digits = reference.groups() if reference else (b"", b"")
        if tag == b"row":
            row = int(digits[:12]) if digits else row
            max_row = max(max_row, row)
            if attributes.endswith(b"/"):
                row, column = row + 1, 0
        else:
            column = column_number(letters[:4]) if letters else column + 1
            max_column, max_row = max(max_column, column), max(max_row, int(digits[:12]) if digits else row)
        if max_column > options.max_columns or max_row > options.max_sheet_rows:
            break
    return max_column, max_row


def _far_references(xml: bytes, options: ImportOptions) -> tuple[int, int]:
    max_column, max_row = 0, 0
    compact = xml.translate(None, _XML_WHITESPACE)
    if _FAR_START.search(compact) is None:
        return max_column, max_row
    patterns = _FAR_REFERENCES if b"'" in compact else _FAR_REFERENCES[:1]
    for match in (m for pattern in patterns for m in pattern.finditer(compact)):
        letters, digits, far_row = match.groups()
        if letters:
            max_column = max(max_column, column_number(letters))
        for row in (digits, far_row):
            if row and len(row) < 12:
                max_row = max(max_row, int(row))
            elif row:
                max_row = options.max_sheet_rows + 1
    return max_column, max_row


def check_bounds(name: str | None, max_column: int, max_row: int, options: ImportOptions) -> None:
    """Refuse a sheet whose farthest cell lies past the sheet bounds (`ImportFileError`), naming the sheet (None:
    a CSV file)."""
    where = "The file" if name is None else f'Sheet "{name}"'
    if max_column > options.max_columns:
        raise ImportFileError(
            issues.TOO_MANY_COLUMNS,
            f"{where} uses column {column_letters(max_column)} (column {max_column:,}); at most "
            f"{options.max_columns} columns (A to {column_letters(options.max_columns)}) are accepted.",
        )
    if max_row > options.max_sheet_rows:
        raise ImportFileError(
            issues.TOO_MANY_ROWS,
            f"{where} reaches row {max_row:,}; at most {options.max_rows:,} data rows are accepted "
            "(delete the rows and formatting below your data).",
        )


def column_letters(number: int) -> str:
    """A 1-based column number as Excel names it (1=A, 26=Z, 27=AA, 16384=XFD)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
