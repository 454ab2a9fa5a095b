-- The digest of each customer's stored persona (issue 15): blake2b, 16 bytes, of the persona as orjson encodes it
-- (`domain.persona_deltas.persona_digest`), written with the persona by the persona stage (`STORE_PERSONAS`) and by
-- the recomputation (`UPDATE_PERSONAS`). The stage decides whether a customer's persona changed (an event, a
-- revision) by comparing digests, and no longer reads the stored persona back: printing each claimed customer's
-- jsonb persona as text and parsing it again in Python cost about 4 us of PostgreSQL CPU and 5 us of the
-- consumer's per customer folded (measured with `benchmarks.profile_batch`). NULL (a customer never folded, or
-- one stored before this, or by a tool that writes personas itself): its persona is read and compared as before.
-- (Nullable, no default: no table rewrite; no index names it, so persona updates stay HOT.)
ALTER TABLE customers ADD COLUMN persona_digest bytea;
