"""`schemas/` is the published contract: it must match the code, and every example must be valid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped,unused-ignore]  # a dev dependency: these checks always run
import pytest

from tools import catalog
from tools.catalog import ENTRIES, SCHEMAS_DIR, Entry


def test_committed_schemas_match_the_code() -> None:
    assert catalog.drift() == [], "run `python -m tools.catalog --write` and commit"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.topic.name)
def test_examples_are_valid_against_schema_and_model(entry: Entry) -> None:
    examples = json.loads((SCHEMAS_DIR / f"{entry.topic.name}.examples.json").read_text(encoding="utf-8"))
    assert examples, "every topic needs at least one example"
    for example in examples:
        entry.model.model_validate(example)
    if jsonschema is not None:
        schema = json.loads((SCHEMAS_DIR / f"{entry.topic.name}.schema.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        for example in examples:
            validator.validate(example)


def test_schema_rejects_what_the_model_rejects() -> None:
    entry = next(e for e in ENTRIES if e.topic.name == "orders.events.v1")
    schema = json.loads((SCHEMAS_DIR / "orders.events.v1.schema.json").read_text(encoding="utf-8"))
    example = json.loads((SCHEMAS_DIR / "orders.events.v1.examples.json").read_text(encoding="utf-8"))[0]
    broken = {**example, "total_amount": "12.5"}  # money needs two places
    assert not jsonschema.Draft202012Validator(schema).is_valid(broken)
    with pytest.raises(ValueError):
        entry.model.model_validate(broken)


def test_asyncapi_lists_every_topic_with_its_schema() -> None:
    document = json.loads((SCHEMAS_DIR / catalog.ASYNCAPI_FILE).read_text(encoding="utf-8"))
    assert document["asyncapi"].startswith("3.")
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {entry.topic.name for entry in ENTRIES}
    for message in document["components"]["messages"].values():
        assert (SCHEMAS_DIR / message["payload"]["$ref"]).exists()
    compacted = document["channels"]["customers_updated_v1"]["bindings"]["kafka"]["topicConfiguration"]
    assert compacted == {"cleanup.policy": ["compact"]}


def test_drift_is_reported_for_a_folder_that_lacks_the_files(tmp_path: Path) -> None:
    assert set(catalog.drift(tmp_path)) == set(catalog.rendered())
    assert catalog.write(tmp_path) and catalog.drift(tmp_path) == []
    (tmp_path / catalog.ASYNCAPI_FILE).write_text("{}", encoding="utf-8")
    assert catalog.drift(tmp_path) == [catalog.ASYNCAPI_FILE]


def test_a_real_persona_validates_against_the_published_schema_which_is_closed() -> None:
    """The persona the consumer computes (every field, times in UTC with Z) is what the schema describes, and the
    schema admits nothing else (no `additionalProperties: true`)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from services.ingest.domain.persona import LifecycleThresholds, OrderAggregates, build_persona

    schema = json.loads((SCHEMAS_DIR / "customers.updated.v1.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["PersonaV1"]["additionalProperties"] is False
    assert '"additionalProperties": true' not in json.dumps(schema)
    when = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    persona = build_persona(
        OrderAggregates(
            3,
            2,
            Decimal("300"),
            Decimal("280.5"),
            when,
            when,
            when,
            sources=["jingdong"],
            status_counts={"paid": 1, "dealed": 1, "deal_closed": 1},
            store_counts={"S1": (3, when)},
            product_quantities={"P1": (4, "茶叶"), "P2": (1, None)},
        ),
        datetime(2026, 12, 1, tzinfo=UTC),
        LifecycleThresholds(),
    )
    payload = {
        "schema_version": 1,
        "customer_id": "0b3c5d2e-1111-4e5f-8a9b-0123456789ab",
        "sobot_customer_id": None,
        "mobile": "13800138001",
        "unionid": None,
        "nickname": "小王",
        "persona": persona,
        "created": False,
    }
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(payload)
    assert not validator.is_valid({**payload, "persona": {**persona, "unexpected": 1}})
    assert not validator.is_valid({**payload, "persona": {**persona, "lifecycle_stage": "asleep"}})
    assert persona["first_order_time"] == "2026-11-30T06:00:00Z"


def test_the_schema_takes_a_blank_buyer_mobile_as_the_model_does() -> None:
    schema = json.loads((SCHEMAS_DIR / "orders.ingest.v1.schema.json").read_text(encoding="utf-8"))
    example = json.loads((SCHEMAS_DIR / "orders.ingest.v1.examples.json").read_text(encoding="utf-8"))[0]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for mobile, valid in (("", True), ("  ", True), ("13912345678", True), ("1391234567", False), ("x", False)):
        blank = {**example, "buyer": {"mobile": mobile, "nickname": "Lily"}}
        assert validator.is_valid(blank) is valid, mobile
        if valid:
            next(e for e in ENTRIES if e.topic.name == "orders.ingest.v1").model.model_validate(blank)


MONEY_TEXTS = ["12.345", "12.50000", "1000000000000", "999999999999.99", "999999999999.999", "0999999999999.99"]
MONEY_TEXTS += ["000000000000000000001.00", "0.001", "1.100", "0", "0.", ".5", "1e2", "123456789012", "0.10"]


@pytest.mark.parametrize("amount", MONEY_TEXTS)
def test_the_schema_takes_a_money_text_exactly_when_the_model_does(amount: str) -> None:
    """The contract's promise: a producer that validates against the schema agrees with the consumer (a text of
    three decimals, or thirteen integer digits, passed the schema and was dead-lettered)."""
    schema = json.loads((SCHEMAS_DIR / "orders.ingest.v1.schema.json").read_text(encoding="utf-8"))
    example = json.loads((SCHEMAS_DIR / "orders.ingest.v1.examples.json").read_text(encoding="utf-8"))[0]
    priced = {**example, "lines": [{**example["lines"][0], "unit_price": amount, "line_amount": None}]}
    priced.pop("order_amount", None)
    assert jsonschema.Draft202012Validator(schema).is_valid(priced) is _model_takes(priced)


def _model_takes(document: dict[str, Any]) -> bool:
    """Whether the consumer's model takes `document` (an orders.ingest.v1 value)."""
    model = next(e for e in ENTRIES if e.topic.name == "orders.ingest.v1").model
    try:
        model.model_validate(document)
    except ValueError:
        return False
    return True


def test_the_schema_takes_a_blank_optional_time_or_amount_as_the_model_does() -> None:
    schema = json.loads((SCHEMAS_DIR / "orders.ingest.v1.schema.json").read_text(encoding="utf-8"))
    example = json.loads((SCHEMAS_DIR / "orders.ingest.v1.examples.json").read_text(encoding="utf-8"))[0]
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    model = next(e for e in ENTRIES if e.topic.name == "orders.ingest.v1").model
    lines = [{**example["lines"][0], "line_amount": ""}]
    blank = {**example, "payment_time": " ", "order_amount": "", "paid_amount": "", "lines": lines}
    assert validator.is_valid(blank)
    model.model_validate(blank)
    assert not validator.is_valid({**example, "order_amount": "x"})  # blank, not any text


@pytest.mark.parametrize("field", ["order_no", "producer", "product_id"])
@pytest.mark.parametrize(("text", "taken"), [(" ", False), ("\t\n ", False), (" A1 ", True), ("A1", True)])
def test_the_schema_takes_a_required_text_exactly_when_the_model_does(field: str, text: str, taken: bool) -> None:
    """A whitespace-only order_no, producer or product_id passed the schema's minLength and was dead-lettered (the
    consumer strips text before it counts)."""
    schema = json.loads((SCHEMAS_DIR / "orders.ingest.v1.schema.json").read_text(encoding="utf-8"))
    example = json.loads((SCHEMAS_DIR / "orders.ingest.v1.examples.json").read_text(encoding="utf-8"))[0]
    if field == "product_id":
        document = {**example, "lines": [{**example["lines"][0], field: text}]}
    else:
        document = {**example, field: text}
    assert _model_takes(document) is taken
    assert jsonschema.Draft202012Validator(schema).is_valid(document) is taken
