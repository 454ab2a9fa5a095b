-- The outbox insert, the largest statement of the consumer's hot path in PostgreSQL (issue 15), measured with
-- `benchmarks.profile_batch` per statement.
--
-- Headers and payload are stored as text: the writer encodes them (orjson), the relay sends them as they are, and
-- nothing looks inside them in SQL. As json each value was validated (parsed) on the way in: about 0.7-1.6 us of
-- PostgreSQL CPU per row, 2.3 rows per created order. `payload::json` still reads one in an ad-hoc query.
-- (A change of type by I/O conversion: the table is rewritten once, with the rows of the retention window.)
ALTER TABLE outbox
    ALTER COLUMN headers DROP DEFAULT,
    ALTER COLUMN headers TYPE text,
    ALTER COLUMN payload TYPE text;
ALTER TABLE outbox ALTER COLUMN headers SET DEFAULT '{}';
