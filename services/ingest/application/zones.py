"""The time zones an import, an export or the console may name: the IANA names of the system's database.

Not `localtime` (the server's own zone: a file's times would depend on the machine that reads them, which the
import promises they never do) nor `Factory` (no zone, "-00"); `available_timezones()` lists both, and `ZoneInfo`
reads any file of the database (`posixrules`, `right/...`). `UTC` is always there.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, available_timezones

NOT_A_PLACE = frozenset({"localtime", "Factory", "posixrules"})


@cache
def named_zones() -> frozenset[str]:
    """Every zone name accepted (read once: listing the database walks its files)."""
    return frozenset((available_timezones() - NOT_A_PLACE) | {"UTC"})


def named_zone(name: str) -> ZoneInfo | None:
    """The zone `name` names, or None when it names no accepted zone."""
    return ZoneInfo(name) if name in named_zones() else None
