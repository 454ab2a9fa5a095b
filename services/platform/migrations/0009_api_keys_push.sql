-- API keys: several per tenant, named, with scopes; only the SHA-256 of a key is stored (it is shown once).
-- A rotation gives the old key an `expires_at` (the overlap window); a revocation sets `revoked_at` (refused at
-- once: keys are looked up on every request, never cached). `last_used_at` is written at most once a minute.
CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    key_hash      bytea NOT NULL UNIQUE,
    scopes        text[] NOT NULL
                  CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read', 'import', 'push', 'admin']),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz,
    replaces      uuid REFERENCES api_keys (id)       -- the key this one was rotated from
);
CREATE INDEX api_keys_of_tenant ON api_keys (tenant_id, created_at, id);

-- Each tenant's key so far keeps working: it becomes the key "default" with every scope.
INSERT INTO api_keys (id, tenant_id, name, key_hash, scopes, created_at)
SELECT gen_random_uuid(), id, 'default', api_key_hash, ARRAY['read', 'import', 'push', 'admin'], created_at
FROM tenants WHERE api_key_hash IS NOT NULL;
ALTER TABLE tenants ALTER COLUMN api_key_hash DROP NOT NULL;
UPDATE tenants SET api_key_hash = NULL;                -- moved to api_keys: one place that authenticates
COMMENT ON COLUMN tenants.api_key_hash IS 'unused since 0009: keys live in api_keys';

-- Per-tenant overrides of the quotas (NULL: the settings' default).
ALTER TABLE tenants ADD COLUMN push_orders_per_second int CHECK (push_orders_per_second > 0);
ALTER TABLE tenants ADD COLUMN import_rows_per_hour int CHECK (import_rows_per_hour > 0);

-- Answers of `POST /v1/orders:batch` by Idempotency-Key, per tenant, kept for a retention (then purged).
CREATE TABLE push_requests (
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    idempotency_key  text NOT NULL,
    body_sha256      bytea NOT NULL,
    state            text NOT NULL CHECK (state IN ('in_progress', 'completed')),
    status           int,
    response         jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX push_requests_by_age ON push_requests (created_at);
