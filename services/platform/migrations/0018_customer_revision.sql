-- A customer's revision: how many effective changes (persona or identifiers announced on customers.updated.v1) it
-- has had. Raised in the transaction that stores the change and enqueues its event, the customer's row locked, so
-- each change's event id (`rules_bridge.domain.events.customer_updated`) is its own: a persona going A -> B -> A
-- announces A twice under two ids, and a subscriber de-duplicating by `ce_id` drops neither. A redelivered batch
-- changes nothing and so raises nothing; a republished outbox row keeps the id stored with it.
-- (A constant default: no table rewrite; no index names it, so persona updates stay HOT.)
ALTER TABLE customers ADD COLUMN revision bigint NOT NULL DEFAULT 0;
