"""The published contract of every topic: `schemas/` is generated from here; a test fails when it drifts.

`python -m tools.catalog --write` regenerates `schemas/`; `--check` exits 1 on drift.
For each entry: `<topic>.schema.json` (JSON Schema of the message value), `<topic>.examples.json` (example
values, each valid against the schema) and one AsyncAPI 3.0 document, `asyncapi.json`, of all topics.
Add a topic by appending an `Entry` to `ENTRIES`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.core.order import OrderStatus
from services.ingest.contracts import orders_ingest_v1
from services.platform.topics import TopicSpec
from services.rules_bridge.contracts import customer_updated_v1, order_events_v1
from tools import contract_examples as examples

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
ASYNCAPI_FILE = "asyncapi.json"


@dataclass(frozen=True)
class Entry:
    """One topic's contract: its spec, the model of its values, what it carries and who sends it."""

    topic: TopicSpec
    model: type[BaseModel]
    description: str
    key: str
    examples: tuple[dict[str, Any], ...]
    event_types: tuple[str, ...] = ()
    cloudevents: bool = False
    sender: str = "orderinfo"
    extra: dict[str, Any] = field(default_factory=dict)


ENTRIES: tuple[Entry, ...] = (
    Entry(
        topic=orders_ingest_v1.TOPIC,
        model=orders_ingest_v1.OrderIngestV1,
        description="Orders to upsert, one message per order (imports and live integrations).",
        key="{tenant_id}:{order_no}",
        examples=(examples.ingest_order(),),
        sender="orderinfo-import",
    ),
    Entry(
        topic=order_events_v1.TOPIC,
        model=order_events_v1.OrderEventV1,
        description="What orders did: created, milestones reached (paid ... completed, closed), updated.",
        key="{tenant_id}:{order_no}",
        examples=tuple(examples.order_event_data(OrderStatus.SHIPPED)),
        event_types=order_events_v1.EVENT_TYPES,
        cloudevents=True,
        sender="orderinfo-rules-bridge",
    ),
    Entry(
        topic=customer_updated_v1.TOPIC,
        model=customer_updated_v1.CustomerUpdatedV1,
        description="A customer's identifiers and full persona after a change. Compacted: latest per customer.",
        key="{tenant_id}:{customer_id}",
        examples=(examples.customer(),),
        event_types=customer_updated_v1.EVENT_TYPES,
        cloudevents=True,
        sender="orderinfo-rules-bridge",
    ),
)


def schema_of(entry: Entry) -> dict[str, Any]:
    schema = entry.model.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{entry.topic.name}.schema.json",
        **schema,
    }


def asyncapi(entries: Sequence[Entry]) -> dict[str, Any]:
    """An AsyncAPI 3.0 document of all topics (logical names: deployments may prefix them)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for entry in entries:
        name = _message_name(entry)
        messages[name] = _message(entry)
        channels[name] = {
            "address": entry.topic.name,
            "description": entry.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"kafka": _topic_binding(entry)},
        }
        operations[f"send_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"Sent by {entry.sender}.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Order Info", "version": "1.0.0", "description": "Topics Order Info publishes and reads."},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered(entries: Sequence[Entry] = ENTRIES) -> dict[str, str]:
    """Every file of `schemas/`, by name, as it must be committed."""
    files = {}
    for entry in entries:
        files[f"{entry.topic.name}.schema.json"] = _json(schema_of(entry))
        files[f"{entry.topic.name}.examples.json"] = _json(list(entry.examples))
    files[ASYNCAPI_FILE] = _json(asyncapi(entries))
    return files


def drift(folder: Path = SCHEMAS_DIR) -> list[str]:
    """Names of files missing or different in `folder` (generated files only; others are left alone)."""
    return [
        name
        for name, text in rendered().items()
        if not (folder / name).exists() or (folder / name).read_text(encoding="utf-8") != text
    ]


def write(folder: Path = SCHEMAS_DIR) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    changed = drift(folder)
    for name, text in rendered().items():
        if name in changed:
            (folder / name).write_text(text, encoding="utf-8")
    return changed


def _message_name(entry: Entry) -> str:
    return entry.topic.name.replace(".", "_")


def _message(entry: Entry) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": entry.topic.name,
        "title": entry.model.__name__,
        "summary": entry.description,
        "contentType": "application/json",
        "payload": {"$ref": f"{entry.topic.name}.schema.json"},
        "examples": [{"payload": example} for example in entry.examples],
        "bindings": {"kafka": {"key": {"type": "string", "description": f"`{entry.key}`"}}},
    }
    if entry.cloudevents:
        message["headers"] = _cloudevent_headers(entry.event_types)
        message["description"] = "CloudEvents 1.0, Kafka binary content mode: attributes in `ce_*` headers."
    return message


def _cloudevent_headers(event_types: Sequence[str]) -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenantid", "content-type"],
        "properties": {
            "ce_specversion": {"const": "1.0"},
            "ce_id": {**text, "description": "Deterministic: a redelivered event has the same id. Dedupe on it."},
            "ce_source": text,
            "ce_type": {"enum": list(event_types)},
            "ce_time": {**text, "format": "date-time"},
            "ce_subject": text,
            "ce_tenantid": {**text, "format": "uuid"},
            "content-type": {"const": "application/json"},
        },
    }


def _topic_binding(entry: Entry) -> dict[str, Any]:
    binding: dict[str, Any] = {"topic": entry.topic.name, "bindingVersion": "0.5.0"}
    if entry.topic.partitions:
        binding["partitions"] = entry.topic.partitions
    if "cleanup.policy" in entry.topic.configs:
        binding["topicConfiguration"] = {"cleanup.policy": [entry.topic.configs["cleanup.policy"]]}
    return binding


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="catalog", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="regenerate schemas/")
    action.add_argument("--check", action="store_true", help="exit 1 when schemas/ differs from the code")
    args = parser.parse_args(argv)
    if args.write:
        for name in write():
            print(f"wrote schemas/{name}")
        return 0
    stale = drift()
    for name in stale:
        print(f"schemas/{name} differs from the code: run `python -m tools.catalog --write`")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
