"""Every SQL statement of the rules bridge, by name. Arrays go in column by column and are expanded with `unnest`.

jsonb goes in as JSON text (`::jsonb`) and comes out as text, so these statements work on any connection,
with or without the json codecs of `services.platform.database`. The outbox rows go in by binary COPY (no statement
here but the columns); their headers and payload are JSON kept as text (migration 0017), never parsed in SQL.
"""

# Advisory lock classes (two-int keys: class, shard). The migration lock uses the one-bigint key space.
SHARD_BARRIER_CLASS = 0x0D3E_0B0A  # writers hold it SHARED per shard until commit; the relay takes it EXCLUSIVE
SHARD_OWNER_CLASS = 0x0D3E_0B0B  # session lock: the one relay that publishes a shard

NOTIFY_CHANNEL = "orderinfo_outbox"

# --- writers (the ingest consumer's transaction) ------------------------------------------------------------------

HOLD_SHARDS_SHARED = f"SELECT pg_advisory_xact_lock_shared({SHARD_BARRIER_CLASS}, s) FROM unnest($1::int[]) AS s"

# The writer inserts by binary COPY (`outbox_store.enqueue`) into these columns, rows in id order.
OUTBOX_TABLE = "outbox"
OUTBOX_COPY_COLUMNS = ("tenant_id", "topic", "shard", "key", "event_id", "event_type", "headers", "payload")

NOTIFY = f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"

# --- the relay ----------------------------------------------------------------------------------------------------

TRY_OWN_SHARD = f"SELECT pg_try_advisory_lock({SHARD_OWNER_CLASS}, $1)"
RELEASE_SHARD = f"SELECT pg_advisory_unlock({SHARD_OWNER_CLASS}, $1)"

# Pending: not sent and not parked (`failed_at`), the predicate of the `outbox_pending` index.
# `after`: the last id this relay session settled in the shard. Starting the index scan there skips the entries of
# sent rows that vacuum has not removed yet (a queue table's classic slowdown); nothing pending can lie below it.
PENDING_SHARDS = """
SELECT c.shard
FROM unnest($1::int[], $2::bigint[]) AS c (shard, after)
WHERE EXISTS (
    SELECT 1 FROM outbox o WHERE o.shard = c.shard AND o.sent_at IS NULL AND o.failed_at IS NULL AND o.id > c.after
)
ORDER BY c.shard
"""

SET_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', $1, true)"
WAIT_FOR_WRITERS = f"SELECT pg_advisory_xact_lock({SHARD_BARRIER_CLASS}, $1)"

CLAIM_BATCH = """
SELECT id, topic, key, event_id, headers, payload, created_at
FROM outbox
WHERE shard = $1 AND sent_at IS NULL AND failed_at IS NULL AND id > $3
ORDER BY id
LIMIT $2
"""

MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[]) AND sent_at IS NULL"

PARK = """
UPDATE outbox o SET failed_at = now(), failure = p.reason, failure_detail = p.detail
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS p (id, reason, detail)
WHERE o.id = p.id AND o.sent_at IS NULL
"""

BACKLOG = "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"

# Per shard: pending rows and the age of the oldest (database clock, so the relay's clock does not matter).
PENDING_BY_SHARD = """
SELECT shard, count(*) AS pending, extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_s
FROM outbox
WHERE sent_at IS NULL AND failed_at IS NULL
GROUP BY shard
"""

PARKED_COUNT = "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL"

PRUNE_SENT = """
DELETE FROM outbox
WHERE id IN (SELECT id FROM outbox WHERE sent_at < now() - $1::interval ORDER BY sent_at LIMIT $2)
"""


# An erased customer: its customers.updated.v1 rows (sent or not) make way for the tombstone.
DELETE_KEY_EVENTS = """
DELETE FROM outbox WHERE tenant_id = $1 AND topic = $2 AND key = $3
"""
