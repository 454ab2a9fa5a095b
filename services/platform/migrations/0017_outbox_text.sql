-- The outbox insert, the largest statement of the consumer's hot path in PostgreSQL (issue 15), measured with
-- `benchmarks.profile_batch` per statement.
--
-- Headers and payload are stored as text: the writer encodes them (orjson), the relay sends them as they are, and
-- nothing looks inside them in SQL. As json each value was validated (parsed) on the way in: the outbox insert
-- measured 39.7 -> 31.3 us of PostgreSQL CPU per created order (2.3 rows). `payload::json` still reads one.
-- (A change of type by I/O conversion: the table is rewritten once, with the rows of the retention window.)
ALTER TABLE outbox
    ALTER COLUMN headers DROP DEFAULT,
    ALTER COLUMN headers TYPE text,
    ALTER COLUMN payload TYPE text;
ALTER TABLE outbox ALTER COLUMN headers SET DEFAULT '{}';
