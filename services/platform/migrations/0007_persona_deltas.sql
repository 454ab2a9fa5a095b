-- The persona maintained by deltas (issue 15): the order's transaction appends its customer's change here (no
-- customer row is locked for it); the persona stage claims dirty customers (FOR UPDATE SKIP LOCKED), folds their
-- deltas into `customers.persona_state` and deletes them, in one transaction.
CREATE TABLE persona_deltas (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    customer_id  uuid NOT NULL,
    sign         smallint NOT NULL CHECK (sign IN (-1, 1)),  -- 1: an order's new contribution, -1: its old one
    contribution jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()  -- close to the commit: the stage's lag is measured from it
);
CREATE INDEX persona_deltas_by_customer ON persona_deltas (tenant_id, customer_id);

-- The invertible aggregates the persona is built from. A customer created from now on starts empty ('{}'); one
-- stored before this migration has NULL, and its first fold computes it once from its orders.
ALTER TABLE customers ADD COLUMN persona_state jsonb;
ALTER TABLE customers ALTER COLUMN persona_state SET DEFAULT '{}';
