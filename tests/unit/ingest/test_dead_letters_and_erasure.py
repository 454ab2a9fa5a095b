"""Pure parts of dead letters (filters, tenants, replay headers) and of erasure (digests, redaction, masking)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.core.order import Buyer
from services.ingest.application.ingestion import Received, Rejected
from services.ingest.domain.dead_letters import (
    DEAD_LETTER_HEADERS,
    HEADERS_DROPPED,
    DeadLetter,
    Headers,
    LetterFilter,
    by_day,
    counts_by_reason,
    headers_bytes,
    kept_name,
    letter_headers,
    restored_name,
    select,
    tenant_of_key,
)
from services.ingest.domain.erasure import (
    MOBILE_COLUMNS,
    buyer_digests,
    identifier_digest,
    mask_mobile,
    masked_cells,
    personal_positions,
    redact,
)
from services.ingest.entrypoints.consumer import dead_letter_headers

T = uuid.UUID("11111111-2222-4333-8444-555555555555")
AT = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def letter(reason: str = "ambiguous_sku", key: bytes | None = f"{T}:A1".encode(), minutes: int = 0) -> DeadLetter:
    headers = (("x-reason-code", reason.encode()), ("x-original-offset", b"3"), ("traceparent", b"00-1"))
    return DeadLetter(0, minutes, AT + timedelta(minutes=minutes), key, b"{}", headers)


def test_the_consumer_adds_only_headers_a_replay_knows_to_drop() -> None:
    record = Received(0, "orders.ingest.v1", 1, 2, b"k", b"v")
    headers = dead_letter_headers(record, Rejected(0, "processing_error", "m", exception="E"))
    assert set(headers) <= DEAD_LETTER_HEADERS
    assert letter().replay_headers() == (("traceparent", b"00-1"),)


OWN: Headers = (("x-reason-code", b"invalid_json"), ("x-reason", b"not JSON"), ("x-original-offset", b"9"))


def test_a_letter_keeps_its_records_headers_behind_its_own_and_a_replay_restores_them_exactly() -> None:
    sent: Headers = (
        ("traceparent", b"00-1"),
        ("x-reason-code", b"forged"),  # would pass for the letter's reason
        ("X-Original-Offset", b"0"),  # in another case
        ("x-producer-id", b"p"),  # in the namespace kept headers are renamed into
        ("traceparent", b"00-2"),  # a name twice
        ("nothing", None),  # a null value
        ("binary", b"\xff\x00"),
    )
    headers = letter_headers(OWN, sent, b"k", b"v", 10_000)
    assert headers[: len(OWN)] == OWN
    assert [k for k, _ in headers[len(OWN) :]] == [
        "traceparent",
        "x-producer-x-reason-code",
        "x-producer-X-Original-Offset",
        "x-producer-x-producer-id",
        "traceparent",
        "nothing",
        "binary",
    ]
    letter = DeadLetter(0, 0, AT, b"k", b"v", headers)
    assert letter.reason == "invalid_json" and letter.header("x-original-offset") == "9"  # the consumer's, not sent
    assert letter.replay_headers() == sent


@pytest.mark.parametrize(
    "name", ["x-reason-code", "X-REASON", "x-producer-", "x-Producer-x", "x-original-headers-dropped"]
)
def test_kept_names_never_pass_for_a_dead_letter_header_and_are_restored(name: str) -> None:
    kept = kept_name(name)
    assert kept not in DEAD_LETTER_HEADERS and restored_name(kept) == name


def test_headers_that_would_pass_the_letters_bound_are_all_dropped_with_a_note() -> None:
    sent: Headers = tuple((f"h{n}", b"x" * 100) for n in range(50))
    value = b"v" * 5000
    fits = headers_bytes(OWN) + len(value) + 1 + headers_bytes(sent) + 1024 + 256
    assert letter_headers(OWN, sent, b"k", value, fits)[len(OWN) :] == sent
    dropped = letter_headers(OWN, sent, b"k", value, fits - 1)
    assert dropped[: len(OWN)] == OWN and len(dropped) == len(OWN) + 1
    letter = DeadLetter(0, 0, AT, b"k", value, dropped)
    assert letter.header(HEADERS_DROPPED) == f"too_large: 50 headers of {headers_bytes(sent)} bytes"
    assert letter.replay_headers() == ()
    # renaming adds bytes: headers that fit the record may not fit its letter
    named: Headers = tuple((f"x-producer-{n}", None) for n in range(50))
    assert headers_bytes(tuple((kept_name(k), v) for k, v in named)) == headers_bytes(named) + 50 * 11


def test_an_erased_customers_letter_keeps_none_of_its_headers() -> None:
    headers = letter_headers(OWN, (("traceparent", b"00-1"),), b"k", b"", 10_000, erased=True)
    assert headers == (*OWN, (HEADERS_DROPPED, b"erased_customer: 1 headers of 30 bytes"))
    assert letter_headers(OWN, (), b"k", b"v", 10) == OWN


@pytest.mark.parametrize(
    ("key", "tenant"),
    [(f"{T}:A1".encode(), T), (f"{T}".encode(), T), (b"not-a-uuid:A1", None), (None, None), (b"\xff:x", None)],
)
def test_a_letter_belongs_to_the_tenant_its_key_names(key: bytes | None, tenant: uuid.UUID | None) -> None:
    assert tenant_of_key(key) == tenant


def test_filters_combine_and_until_is_exclusive() -> None:
    letters = [letter(minutes=0), letter("too_many_lines", minutes=1), letter(key=b"x:1", minutes=2)]
    assert select(letters, LetterFilter(reason="ambiguous_sku")) == [letters[0], letters[2]]
    assert select(letters, LetterFilter(tenant_id=T)) == letters[:2]
    assert select(letters, LetterFilter(since=AT + timedelta(minutes=1), until=AT + timedelta(minutes=2))) == [
        letters[1]
    ]
    assert counts_by_reason(letters) == {"ambiguous_sku": 2, "too_many_lines": 1}
    assert DeadLetter(0, 0, AT, None, None, ()).reason == "unknown"


def test_digests_are_salted_by_tenant_and_kind() -> None:
    other = uuid.uuid4()
    assert identifier_digest(T, "mobile", "13800138001") != identifier_digest(other, "mobile", "13800138001")
    assert identifier_digest(T, "mobile", "x") != identifier_digest(T, "unionid", "x")
    buyer = Buyer(mobile="13800138001", nickname="Lily")
    assert [kind for kind, _ in buyer_digests(T, buyer)] == ["mobile"]  # nicknames are not remembered


def test_personal_cells_are_found_by_header_in_either_language() -> None:
    header = ["订单号", "Buyer Mobile", "收货人", "Receiver Address", "Quantity", "备注", "买家昵称"]
    assert personal_positions(header) == [1, 2, 3, 5, 6]
    assert redact(["A1", "138", "Li", "Rd", "2", "call", "Lily"], [1, 2, 3, 5, 6]) == ["A1", "", "", "", "2", "", ""]


def test_the_mobile_cells_of_uploaded_rows_are_masked_as_the_details_mask_them() -> None:
    header = ["订单号", "买家手机号", "Receiver Mobile", "Receiver Name"]
    assert personal_positions(header, MOBILE_COLUMNS) == [1, 2]
    assert masked_cells(["A1", "13800138001", "", "Li"], [1, 2]) == ["A1", "138****8001", "", "Li"]


@pytest.mark.parametrize(
    ("mobile", "masked"),
    [("13800138001", "138****8001"), ("+8613800138001", "+86*******8001"), ("1234567", "*******"), (None, None)],
)
def test_mobiles_are_masked_to_their_first_three_and_last_four(mobile: str | None, masked: str | None) -> None:
    assert mask_mobile(mobile) == masked


def test_letters_are_counted_by_reason_and_day_in_the_zone_given() -> None:
    shanghai = timezone(timedelta(hours=8))
    days = [date(2026, 12, 1), date(2026, 12, 2)]
    late = DeadLetter(0, 9, datetime(2026, 12, 1, 17, 0, tzinfo=UTC), None, None, (("x-reason-code", b"b"),))
    letters = [letter(minutes=0), letter(minutes=1), late, letter(minutes=60 * 24 * 5)]  # the last: outside
    assert by_day(letters, days, shanghai) == {"ambiguous_sku": [2, 0], "b": [0, 1]}  # 17:00 UTC is the 2nd there


def test_the_cli_refuses_a_window_that_ends_before_it_starts() -> None:
    """`orderinfo dlq list --since X --until Y` with Y before X said "0 dead letters match", as if there were none
    (the admin API answers 422 invalid_time_range); now it says so, naming both ends."""
    import argparse

    from services.ingest.entrypoints.dead_letters_cli import BadFilter, letter_filter

    given = {"reason": None, "tenant": None, "since": "2026-12-05T00:00+08:00", "until": "2026-12-01T00:00+08:00"}
    with pytest.raises(BadFilter, match=r"--until \(2026-12-01T00:00:00\+08:00\) is before --since"):
        letter_filter(argparse.Namespace(**given))
    same = letter_filter(argparse.Namespace(**given | {"until": given["since"]}))
    assert same.since == same.until


@pytest.mark.parametrize("limit", [0, -5, 100_001])
async def test_the_cli_refuses_a_limit_it_would_not_keep(limit: int, capsys: pytest.CaptureFixture[str]) -> None:
    """`orderinfo dlq replay --limit 0` replayed a letter (the limit was raised to 1 without a word), and a limit
    over 100,000 was cut silently; the admin API answers both 422."""
    import argparse

    from services.ingest.entrypoints.dead_letters_cli import run_dlq

    args = {"reason": None, "tenant": None, "since": None, "until": None, "limit": limit, "dlq_command": "replay"}
    assert await run_dlq(None, argparse.Namespace(**args)) == 2
    assert "--limit: expected 1 to 100,000 letters" in capsys.readouterr().out
