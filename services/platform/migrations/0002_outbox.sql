-- The outbox is a queue table: every row is inserted, updated once (sent_at) and deleted after the retention.
-- Vacuum and analyze it early, so index scans do not wade through entries of sent rows and the planner keeps
-- using the pending index (stale statistics made it scan the primary key instead).
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_analyze_scale_factor = 0.0,
    autovacuum_analyze_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 5000
);
