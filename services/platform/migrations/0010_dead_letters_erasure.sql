-- Dead-letter replays and customer erasure (PIPL).

-- One row per dead letter replayed (named by where it sits on the dead-letter topic): a second replay of the same
-- letter is refused unless forced, and then counted here again.
CREATE TABLE dead_letter_replays (
    dlq_topic      text NOT NULL,
    dlq_partition  int NOT NULL,
    dlq_offset     bigint NOT NULL,
    tenant_id      uuid,                            -- from the letter's key; NULL when the key names no tenant
    reason         text NOT NULL,                   -- the letter's x-reason-code
    replayed_by    text NOT NULL,                   -- 'cli:<user>' or 'api:<tenant id>'
    replays        int NOT NULL DEFAULT 1,
    first_replayed_at timestamptz NOT NULL DEFAULT now(),
    last_replayed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);
CREATE INDEX dead_letter_replays_by_tenant ON dead_letter_replays (tenant_id, last_replayed_at DESC);

-- Who erased which customer, when, and how much: never the erased values themselves.
CREATE TABLE customer_erasures (
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    customer_id  uuid NOT NULL,
    erased_by    text NOT NULL,
    erased_at    timestamptz NOT NULL DEFAULT now(),
    identifiers  text[] NOT NULL,                   -- the kinds erased: mobile, unionid, sobot_customer_id, nickname
    orders       int NOT NULL,                      -- orders whose buyer and receiver details were erased
    PRIMARY KEY (tenant_id, customer_id, erased_at)
);

-- The erased identifiers, as salted SHA-256 digests (see services/ingest/domain/erasure.py): the consumer refuses
-- a later record naming one, so a redelivered old order cannot bring the customer back.
CREATE TABLE erased_identifiers (
    tenant_id  uuid NOT NULL,
    kind       text NOT NULL,
    digest     bytea NOT NULL,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, digest)
);

-- Per-tenant settings that are not keys: mask_mobiles answers API callers with 138****8001-style mobiles.
CREATE TABLE tenant_settings (
    tenant_id     uuid PRIMARY KEY REFERENCES tenants (id),
    mask_mobiles  boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- An outbox row without payload is a tombstone (a null value on a compacted topic).
ALTER TABLE outbox ALTER COLUMN payload DROP NOT NULL;
