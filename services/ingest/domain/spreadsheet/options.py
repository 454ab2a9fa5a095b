"""The limits and switches of one import (defaults suit the HTTP upload)."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


def megabytes(count: int, *, up: bool = False) -> str:
    """`count` bytes in MB as a message shows them, with at most 2 decimals ("20", "0.25"); rounded `up` for a
    size past a limit (so that it never reads as the limit itself)."""
    hundredths = -(-count * 100 // MB) if up else count * 100 // MB
    whole, part = divmod(hundredths, 100)
    return f"{whole}.{part:02d}".rstrip("0").rstrip(".") if part else str(whole)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Bounds that keep parsing a hostile file in bounded time and memory, and the placeholder mobiles.

    `placeholder_mobiles` adds to the built-in ones (all zeros, 13800000000, 12345678901).
    """

    max_rows: int = 5000
    max_columns: int = 100
    max_bytes: int = 20 * MB
    max_uncompressed_bytes: int = 200 * MB
    max_compression_ratio: int = 200
    ratio_checked_from_bytes: int = 1 * MB  # small members (styles, themes) may compress far better
    max_archive_members: int = 1000
    # Bytes of shared text a sheet's cells may reference, each reference counted (calamine copies the text into
    # every cell): a 5,000 x 25 sheet of 100-byte texts references 12.5 MB.
    max_shared_text_bytes: int = 64 * MB
    placeholder_mobiles: frozenset[str] = frozenset()

    @property
    def max_sheet_rows(self) -> int:
        """How far down a sheet may reach before it is refused unread (room for blank and title rows)."""
        return self.max_rows * 2 + 1000


DEFAULT_OPTIONS = ImportOptions()
