"""Contract of `customers.updated.v1`: a customer's identifiers and full persona after it was created or changed.

A COMPACTED topic keyed `"{tenant_id}:{customer_id}"`: the latest value per customer is the current state, so a
new subscriber can rebuild every persona by reading from the beginning. CloudEvents 1.0 binary mode, type
`customer.updated`, `ce_subject` = customer id, `ce_tenantid` extension. `ce_id` is derived from the tenant, the
customer and the customer's revision (raised once per change, migration 0018): each change carries an id of its
own, even a persona back to an earlier state, and a redelivered or republished record the same id.

An erased customer (PIPL, `orderinfo customers erase`) gets a tombstone: a null value under its key, `ce_type`
`customer.erased`, no `content-type`. Compaction then drops every earlier record of that key.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from services.core.persona import PersonaV1
from services.platform.topics import TopicSpec

SCHEMA_VERSION = 1
TOPIC = TopicSpec("customers.updated.v1", configs={"cleanup.policy": "compact"})
SOURCE = "/orderinfo/customers"

CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_ERASED = "customer.erased"  # the tombstone's ce_type (no data: not in EVENT_TYPES, which have schemas)
EVENT_TYPES: tuple[str, ...] = (CUSTOMER_UPDATED,)


class CustomerUpdatedV1(BaseModel):
    """Identifiers and persona of one customer, as stored after the change."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="customers.updated.v1")

    schema_version: Literal[1] = 1
    customer_id: UUID
    sobot_customer_id: str | None
    mobile: str | None
    unionid: str | None
    nickname: str | None
    persona: PersonaV1 = Field(description="The consumption profile: see `Persona`.")
    created: bool = Field(description="True when this change created the customer.")
