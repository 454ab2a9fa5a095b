"""The time formatters write exactly what `datetime.isoformat` writes (they take a faster path in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from services.core.times import iso_text, utc_text

LIMIT = 23 * 3600 + 59 * 60  # seconds: the largest offset `timezone` takes
OFFSETS = st.integers(min_value=-LIMIT, max_value=LIMIT).map(lambda s: timezone(timedelta(seconds=s)))
ZONES = st.one_of(st.just(UTC), OFFSETS)
# Instants whose UTC time exists (the offset does not push them past year 1 or 9999)
TIMES = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES)


class Later(datetime):
    """A subclass of datetime: formatted as it formats itself."""


@given(TIMES)
def test_utc_text_is_the_utc_isoformat_with_z(value: datetime) -> None:
    assert utc_text(value) == value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@given(TIMES)
def test_iso_text_is_isoformat(value: datetime) -> None:
    assert iso_text(value) == value.isoformat()


def test_subclasses_and_other_zones_take_isoformat() -> None:
    value = Later(2026, 11, 30, 6, 0, 0, 5, tzinfo=UTC)
    assert utc_text(value) == "2026-11-30T06:00:00.000005Z"
    assert iso_text(value) == "2026-11-30T06:00:00.000005+00:00"
    china = datetime(2026, 11, 30, 14, tzinfo=timezone(timedelta(hours=8)))
    assert (utc_text(china), iso_text(china)) == ("2026-11-30T06:00:00Z", "2026-11-30T14:00:00+08:00")
