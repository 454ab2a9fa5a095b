-- The consumer's hot path in PostgreSQL (issue 15): the foreign keys of orders, customers, products and stores to
-- `tenants` ran a trigger per inserted row (a query on `tenants` and a FOR KEY SHARE lock of the tenant's row
-- apiece; with two consumers of one tenant each lock also made a MultiXact), measured with
-- `benchmarks.profile_batch` and per statement: about 10 us of PostgreSQL CPU per created order on the orders
-- upsert alone. They cannot fail on the consumer's path: it writes only rows of tenants it found in the same
-- transaction (`ingestion._check_claims`, `EXISTING_TENANTS`), and a tenant is never deleted, which a trigger now
-- enforces (the keys did it before: no tenant with rows could go); nor is its id changed.
ALTER TABLE orders DROP CONSTRAINT orders_tenant_id_fkey;
ALTER TABLE customers DROP CONSTRAINT customers_tenant_id_fkey;
ALTER TABLE products DROP CONSTRAINT products_tenant_id_fkey;
ALTER TABLE stores DROP CONSTRAINT stores_tenant_id_fkey;

CREATE FUNCTION tenants_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tenants are never deleted, nor their ids changed (their orders, customers, products and '
                    'stores name them)' USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER tenants_kept BEFORE DELETE OR UPDATE OF id ON tenants FOR EACH ROW EXECUTE FUNCTION tenants_are_kept();
CREATE TRIGGER tenants_kept_whole BEFORE TRUNCATE ON tenants FOR EACH STATEMENT EXECUTE FUNCTION tenants_are_kept();
