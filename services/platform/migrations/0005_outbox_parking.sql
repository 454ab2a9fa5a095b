-- The relay parks an event the broker can never take (too large, rejected): it stays in the outbox, unsent, with
-- when and why, instead of blocking its shard. Parked rows are neither pending nor pruned (see docs/limits.md).
ALTER TABLE outbox
    ADD COLUMN failed_at      timestamptz,
    ADD COLUMN failure        text,            -- reason code: too_large | invalid_topic | unknown_topic | rejected
    ADD COLUMN failure_detail text;            -- sizes, limit, the broker's error: for operators, never end users

DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (shard, id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_parked ON outbox (failed_at) WHERE failed_at IS NOT NULL;
