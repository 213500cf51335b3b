-- Moves the feed's durability horizon (migrations/0011_flush_horizon.sql) up to this
-- statement's snapshot xmin. Run it in a synchronous transaction: once its commit returns,
-- that commit and every transaction below the new horizon are flushed. greatest() keeps the
-- horizon from going back when two of these race (the later one rereads the row it waited for).
UPDATE ingest_flush_horizon SET horizon = greatest(horizon, pg_snapshot_xmin(pg_current_snapshot()))
RETURNING horizon::text
