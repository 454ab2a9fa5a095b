"""Erasing a customer's personal data (PIPL), pure parts: what is personal, digests of erased identifiers, masking.

Personal: the buyer's identifiers (Sobot customer ID, mobile, unionid) and nickname, the receiver's name, mobile
and address, the order's free-text remark (people write phone numbers and addresses in it), and the same cells of
the uploaded rows kept for result workbooks. Order facts (amounts, lines, statuses, times, store) stay: they are
anonymous once nothing links them to a person.

Erased identifiers are remembered as salted SHA-256 digests (`identifier_digest`, salted by the tenant) so the
consumer can refuse a later record naming one (a redelivered old order must not bring the customer back) without
keeping the value. Nicknames are erased but not remembered: many people share one, and refusing every later order
with that nickname would refuse strangers. A mobile has few enough values that its digest could be reversed by
trying them all: the digests are pseudonymous, not anonymous, and are kept for this purpose only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from uuid import UUID

from services.core.order import Buyer
from services.ingest.domain.spreadsheet.template import HEADER_INDEX, header_key

REMEMBERED = ("sobot_customer_id", "mobile", "unionid")  # refused on later records when erased
ERASED = (*REMEMBERED, "nickname")
PERSONAL_COLUMNS = frozenset(
    {
        "buyer_sobot_id",
        "buyer_mobile",
        "buyer_unionid",
        "buyer_nickname",
        "receiver_name",
        "receiver_mobile",
        "receiver_address",
        "remark",
    }
)


def identifier_digest(tenant_id: UUID, kind: str, value: str) -> bytes:
    return hashlib.sha256(f"orderinfo-erased\x00{tenant_id}\x00{kind}\x00{value}".encode()).digest()


def buyer_digests(tenant_id: UUID, buyer: Buyer) -> list[tuple[str, bytes]]:
    """(kind, digest) of each remembered identifier `buyer` gives."""
    values = {"sobot_customer_id": buyer.sobot_customer_id, "mobile": buyer.mobile, "unionid": buyer.unionid}
    return [(kind, identifier_digest(tenant_id, kind, v)) for kind, v in values.items() if v]


MOBILE_COLUMNS = frozenset({"buyer_mobile", "receiver_mobile"})  # what masked answers mask (`mask_mobile`)


def personal_positions(header: Sequence[str], columns: frozenset[str] = PERSONAL_COLUMNS) -> list[int]:
    """Indexes of the header's personal columns, or of those among `columns` (by the template's names and
    aliases, zh or en)."""
    return [i for i, name in enumerate(header) if HEADER_INDEX.get(header_key(name)) in columns]


def masked_cells(cells: Sequence[str], positions: Sequence[int]) -> list[str]:
    """`cells` with the mobiles at `positions` masked (`mask_mobile`), as a masked order's details show them."""
    masked = set(positions)
    return [(mask_mobile(cell) or "") if i in masked and cell else cell for i, cell in enumerate(cells)]


def redact(cells: Sequence[str], positions: Sequence[int]) -> list[str]:
    """`cells` with the cells at `positions` blanked."""
    blank = set(positions)
    return ["" if i in blank else cell for i, cell in enumerate(cells)]


def mask_mobile(mobile: str | None) -> str | None:
    """`13800138001` -> `138****8001`: the first 3 and last 4 digits of a long number, stars between; shorter
    values are starred whole (nothing of a short value is safe to show)."""
    if mobile is None:
        return None
    if len(mobile) < 8:
        return "*" * len(mobile)
    return mobile[:3] + "*" * (len(mobile) - 7) + mobile[-4:]
