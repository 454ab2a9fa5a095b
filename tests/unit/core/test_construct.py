"""`order.construct` leaves a model as `model_validate` does: the same fields, set fields, no extra or private."""

from __future__ import annotations

from decimal import Decimal

from services.core.order import Buyer, OrderLine, construct


def test_a_constructed_model_is_the_validated_one() -> None:
    values = {
        "product_id": "P1",
        "sku": "",
        "product_name": None,
        "quantity": 2,
        "unit_price": Decimal("9.90"),
        "line_amount": None,
        "row_no": 3,
    }
    built, validated = construct(OrderLine, dict(values)), OrderLine.model_validate(values)
    assert built == validated
    assert built.model_fields_set == validated.model_fields_set
    assert (built.__pydantic_extra__, built.__pydantic_private__) == (None, None)


def test_the_set_fields_are_the_given_ones_each_instance_its_own() -> None:
    values = {"sobot_customer_id": None, "mobile": "13912345678", "unionid": None, "nickname": None}
    first, second = construct(Buyer, dict(values), ("mobile",)), construct(Buyer, dict(values), ("mobile",))
    assert first.model_fields_set == {"mobile"}
    first.model_fields_set.add("unionid")
    assert second.model_fields_set == {"mobile"}
