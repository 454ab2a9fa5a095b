"""Reading a pushed batch: orders cut out as sent, whole-body problems named; the claims the push sets."""

from __future__ import annotations

import json
import uuid

import pytest

from services.ingest.domain.push import TOO_DEEP, PushBodyError, charge, foreign_orders, message_text, split_orders

T = uuid.UUID("0b6f3c2e-5d1a-4e8f-9a7b-3c2d1e0f4a5b")


def test_orders_keep_their_exact_text() -> None:
    body = b'{ "orders" : [ {"order_no": "A", "paid_amount": 1e2},{"x": 12.50} , [] ] }'
    orders = split_orders(body)
    assert [o.text for o in orders] == ['{"order_no": "A", "paid_amount": 1e2}', '{"x": 12.50}', "[]"]
    assert [o.index for o in orders] == [0, 1, 2]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_json"),
        (b"\xc3", "invalid_encoding"),
        (b'{"orders": {}}', "invalid_json"),
        (b'{"order": []}', "invalid_body"),
        (b'{"orders": []}', "no_orders"),
        (b'{"orders": [{}] } x', "invalid_json"),
        (b'{"orders": [' + b"[" * 100_000 + b"]" * 99_999 + b"]}", "invalid_json"),  # never closed
        (b'{"orders": [' + b",".join([b"{}"] * 4) + b"]}", "too_many_orders"),
    ],
)
def test_bodies_that_are_not_a_batch_are_refused_naming_why(body: bytes, code: str) -> None:
    with pytest.raises(PushBodyError) as refused:
        split_orders(body, max_orders=3)
    assert refused.value.code == code and refused.value.message


def test_the_tenant_and_producer_are_set_last_so_they_win() -> None:
    (order,) = split_orders(b'{"orders": [{"order_no": "A", "producer": "me", "tenant_id": "x"}]}')
    value = json.loads(message_text(order, T, 'mall "sync"'))
    assert value == {"order_no": "A", "producer": 'mall "sync"', "tenant_id": str(T)}
    (empty,) = split_orders(b'{"orders": [ { } ]}')
    assert json.loads(message_text(empty, T, "k")) == {"tenant_id": str(T), "producer": "k"}


def test_orders_naming_another_tenant_are_found() -> None:
    body = {"orders": [{"tenant_id": str(T)}, {"tenant_id": str(uuid.uuid4())}, {}, {"tenant_id": 5}, 7]}
    assert foreign_orders(split_orders(json.dumps(body).encode()), T) == (1, 3)


def test_a_null_tenant_id_names_no_tenant_as_a_null_import_id_or_producer_does() -> None:
    # it refused the whole push as "another tenant's orders" (403), for a client that writes absent fields as null
    body = {"orders": [{"tenant_id": None, "import_id": None, "producer": None}, {"tenant_id": ""}]}
    assert foreign_orders(split_orders(json.dumps(body).encode()), T) == (1,)


def test_a_push_is_charged_once_per_order_and_once_more_per_four_lines_past_four() -> None:
    def lines(n: int) -> str:
        return json.dumps({"lines": [{"product_id": f"P{k}"} for k in range(n)]})

    body = f'{{"orders": [{lines(1)}, {lines(4)}, {lines(5)}, {lines(500)}, {{}}, 7, {{"lines": "x"}}]}}'
    assert charge(split_orders(body.encode())) == 1 + 1 + 2 + 125 + 1 + 1 + 1


def test_an_order_is_charged_for_at_most_the_lines_an_order_may_have() -> None:
    # an order of 5 million empty lines (a 16 MiB body) charged 1.25 million orders: the tenant's bucket owed ten
    # minutes at the default rate for one request, though the order is rejected unread (past 500 lines)
    body = '{"orders": [{"lines": [' + ",".join(["{}"] * 100_000) + "]}, " + '{"lines": [{}]}]}'
    assert charge(split_orders(body.encode())) == 125 + 1


def test_an_integer_of_thousands_of_digits_is_its_orders_problem_not_the_pushs() -> None:
    # PushBodyError for the whole push ("a number too long"): 999 valid orders refused for one order's remark
    long = "9" * 5000
    orders = split_orders(f'{{"orders": [{{"order_no": "A"}}, {{"order_no": "B", "remark": -{long}}}]}}'.encode())
    assert [o.value["order_no"] for o in orders] == ["A", "B"]
    assert orders[1].text.endswith(f"-{long}}}") and orders[1].value["remark"] == f"-{long}"
    assert split_orders(b'{"orders": [{"quantity": 12}]}')[0].value == {"quantity": 12}
    (alone,) = split_orders(b'{"orders": [' + b"1" * 5000 + b"]}")  # an order that is a long integer: its answer
    assert alone.value == "1" * 5000 and type(alone.value).__name__ == "LongInteger"


def test_an_order_nested_a_thousand_deep_is_cut_out_by_its_brackets_and_only_it_refused() -> None:
    # RecursionError in Python's reader refused the whole push ("JSON nested too deeply")
    deep = '{"remark": ' + "[" * 5000 + '"a]}[{\\"b"' + "]" * 5000 + "}"  # a string holding brackets and a quote
    body = f'{{"orders": [{{"order_no": "A"}}, {deep}, {{"order_no": "B"}}]}}'.encode()
    orders = split_orders(body)
    assert [o.value for o in orders] == [{"order_no": "A"}, TOO_DEEP, {"order_no": "B"}]
    assert orders[1].text == deep and charge(orders) == 3 and foreign_orders(orders, T) == ()


@pytest.mark.parametrize(
    ("body", "seen"),
    [
        (b'\xef\xbb\xbf{"orders": [{}]}', "UTF-8 with a byte-order mark"),
        ('{"orders": [{}]}'.encode("utf-16"), "UTF-16 (little-endian, with a byte-order mark)"),
        ('{"orders": [{}]}'.encode("utf-16-be"), "UTF-16 (big-endian)"),
        ('{"orders": [{}]}'.encode("utf-32-le"), "UTF-32 (little-endian)"),
    ],
)
def test_a_body_in_another_encoding_than_utf8_is_refused_naming_the_encoding(body: bytes, seen: str) -> None:
    with pytest.raises(PushBodyError) as refused:
        split_orders(body)
    expected = ("invalid_encoding", f"the body is {seen}: JSON must be UTF-8, without a byte-order mark")
    assert (refused.value.code, refused.value.message) == expected
