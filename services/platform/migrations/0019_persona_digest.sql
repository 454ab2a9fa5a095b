-- The digest of each customer's stored persona (issue 15): blake2b, 16 bytes, of the persona as orjson encodes it
-- (`domain.persona_deltas.persona_digest`), written with the persona by the persona stage (`STORE_PERSONAS`) and by
-- the recomputation (`UPDATE_PERSONAS`). The stage decides whether a customer's persona changed (an event, a
-- revision) by comparing digests, and no longer reads the stored persona back: printing each claimed customer's
-- jsonb persona as text and parsing it again in Python cost about 4 us of PostgreSQL CPU and 5 us of the
-- consumer's per customer folded (measured with `benchmarks.profile_batch`). NULL (a customer never folded, or
-- one stored before this, or by a tool that writes personas itself): its persona is read and compared as before.
-- (Nullable, no default: no table rewrite; no index names it, so persona updates stay HOT.)
ALTER TABLE customers ADD COLUMN persona_digest bytea;

-- A writer that stores a persona without its digest (a consumer of before this migration still running in a rolling
-- deploy, a fix-up by hand) would leave the digest of the persona it replaced: a later fold landing back on that
-- persona would take it for unchanged, and store and announce nothing. Such an update clears the digest, so the
-- persona itself is compared, as before. (The stage and the recomputation always write the new persona's digest,
-- which differs: the condition's first term is false and the function is not called; measured with
-- `benchmarks.profile_batch`, A/B twice: `STORE_PERSONAS` about 2 us of PostgreSQL CPU more per order.)
CREATE FUNCTION customers_persona_digest_cleared() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.persona_digest := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER customers_persona_digest_kept_true BEFORE UPDATE OF persona ON customers FOR EACH ROW
    WHEN (NEW.persona_digest IS NOT DISTINCT FROM OLD.persona_digest AND NEW.persona IS DISTINCT FROM OLD.persona)
    EXECUTE FUNCTION customers_persona_digest_cleared();
