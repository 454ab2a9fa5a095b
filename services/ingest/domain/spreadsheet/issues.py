"""The import file's problem vocabulary: stable codes, row issues (values) and the one whole-file exception.

Codes are part of the API: the HTTP layer, the result workbook and users' scripts key on them, so a code is never
renamed, only added. Row problems are `RowIssue` values; only whole-file problems raise `ImportFileError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.ingest.domain.spreadsheet.options import megabytes

# Whole-file problems (`ImportFileError.code`).
FILE_TOO_LARGE = "file_too_large"
EMPTY_FILE = "empty_file"
UNSUPPORTED_FORMAT = "unsupported_format"
ENCRYPTED_OR_LEGACY = "encrypted_or_legacy_xls"
CORRUPT_WORKBOOK = "corrupt_workbook"
ARCHIVE_TOO_LARGE = "archive_too_large"
UNSAFE_XML = "unsafe_xml"
UNDECODABLE_TEXT = "undecodable_text"
SHEET_NOT_FOUND = "sheet_not_found"
EMPTY_WORKBOOK = "empty_workbook"
MISSING_COLUMNS = "missing_columns"
DUPLICATE_COLUMNS = "duplicate_columns"
TOO_MANY_COLUMNS = "too_many_columns"
TOO_MANY_ROWS = "too_many_rows"
NO_DATA_ROWS = "no_data_rows"
UNKNOWN_TIMEZONE = "unknown_timezone"
STRICT_MODE_REJECTED = "strict_mode_rejected"
INVALID_HEADER = "invalid_header"
ORDER_TOO_LARGE = "order_too_large"
WORKBOOK_TOO_COMPLEX = "workbook_too_complex"

# Row errors (the row is invalid; its order is held back).
BLANK_REQUIRED = "blank_required"
TOO_LONG = "too_long"
INVALID_SOURCE = "invalid_source"
INVALID_STATUS = "invalid_status"
INVALID_TIME = "invalid_time"
INVALID_NUMBER = "invalid_number"
SCIENTIFIC_NOTATION = "scientific_notation"
NOT_INTEGER = "not_integer"
NOT_POSITIVE = "not_positive"
NEGATIVE_AMOUNT = "negative_amount"
TOO_MANY_DECIMALS = "too_many_decimals"
TOO_LARGE = "too_large"
INVALID_MOBILE = "invalid_mobile"
STORE_MISSING = "store_missing"
BUYER_MISSING = "buyer_missing"
INCONSISTENT_ORDER = "inconsistent_order"
DUPLICATE_LINE = "duplicate_line"
TOO_MANY_LINES = "too_many_lines"
INVALID_CHARACTER = "invalid_character"
INEXACT_NUMBER = "inexact_number"
ERROR_CELL = "error_cell"
DOT_SEGMENT = "dot_segment"
TIME_OUT_OF_RANGE = "time_out_of_range"
TOTAL_TOO_LARGE = "total_too_large"
AMBIGUOUS_DATE = "ambiguous_date"
TOO_MANY_CELLS = "too_many_cells"
INVISIBLE_CHARACTER = "invisible_character"  # in an identifier (bounds.identifier_problem)

# Warnings (the row stays valid).
UNKNOWN_COLUMN = "unknown_column"
PLACEHOLDER_MOBILE = "placeholder_mobile"
MASKED_MOBILE = "masked_mobile"  # 139****5678: digits hidden by the platform's export
INVALID_RECEIVER_MOBILE = "invalid_receiver_mobile"
PAYMENT_BEFORE_ORDER = "payment_before_order"
LINE_AMOUNT_MISMATCH = "line_amount_mismatch"
TIME_OFFSET_USED = "time_offset_used"
EXAMPLE_ROW = "example_row"
REPEATED_HEADER = "repeated_header"  # a row repeating the header: files joined one after the other
TOTAL_ROW = "total_row"  # an export's totals row (合计): no order
HIDDEN_SHEET_SKIPPED = "hidden_sheet_skipped"

ROW_ERROR_CODES = frozenset(
    {
        BLANK_REQUIRED,
        TOO_LONG,
        INVALID_SOURCE,
        INVALID_STATUS,
        INVALID_TIME,
        INVALID_NUMBER,
        SCIENTIFIC_NOTATION,
        NOT_INTEGER,
        NOT_POSITIVE,
        NEGATIVE_AMOUNT,
        TOO_MANY_DECIMALS,
        TOO_LARGE,
        INVALID_MOBILE,
        STORE_MISSING,
        BUYER_MISSING,
        INCONSISTENT_ORDER,
        DUPLICATE_LINE,
        TOO_MANY_LINES,
        INVALID_CHARACTER,
        INEXACT_NUMBER,
        ERROR_CELL,
        DOT_SEGMENT,
        TIME_OUT_OF_RANGE,
        TOTAL_TOO_LARGE,
        AMBIGUOUS_DATE,
        TOO_MANY_CELLS,
        INVISIBLE_CHARACTER,
    }
)
WARNING_CODES = frozenset(
    {
        UNKNOWN_COLUMN,
        PLACEHOLDER_MOBILE,
        MASKED_MOBILE,
        INVALID_RECEIVER_MOBILE,
        PAYMENT_BEFORE_ORDER,
        LINE_AMOUNT_MISMATCH,
        TIME_OFFSET_USED,
        EXAMPLE_ROW,
        REPEATED_HEADER,
        TOTAL_ROW,
        HIDDEN_SHEET_SKIPPED,
    }
)


def file_too_large(size: int | None, limit: int) -> str:
    """The refusal of a file past the upload limit, in MB; `size` None when only the request's size is known."""
    if size is None:
        return (
            f"The file is larger than {megabytes(limit)} MB, the most accepted per upload; split it into smaller files."
        )
    return (
        f"The file is {megabytes(size, up=True)} MB; at most {megabytes(limit)} MB are accepted per upload. Split it "
        "into smaller files."
    )


def too_complex(cause: str) -> str:
    """The refusal of a file whose read was stopped (`cause`: what stopped it, e.g. "it was not read within 30
    seconds")."""
    return (
        f"The file is too complex or damaged to be read: {cause}. Open it in Excel or WPS and save it again as "
        ".xlsx, or export it as CSV."
    )


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One problem of one cell or row; `row` is the sheet row the user sees (None: the whole file)."""

    row: int | None
    column: str | None
    code: str
    message: str
    value: str | None


class ImportFileError(Exception):
    """The whole file is rejected; `code` is one of the whole-file codes above."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[ImportFileError], tuple[str, str]]:
        return type(self), (self.code, self.message)  # read in a child process, raised in the API's
