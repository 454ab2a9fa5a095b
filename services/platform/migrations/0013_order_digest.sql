-- Redelivery short-circuit (issue 15): the digest of the message whose planning last wrote the order (blake2b,
-- 16 bytes, of the record value and the consumer's placeholder mobiles; see `ingestion.decode`). A record with the
-- same digest is that message again, over the state it left: planning answers `unchanged` without merging it
-- again (`planning.plan_round`). NULL (orders written before this, or erased since) always plans in full.
ALTER TABLE orders ADD COLUMN digest bytea;
