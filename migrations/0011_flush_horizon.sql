-- The event feed's durability horizon.
--
-- Ingest may commit its batches with synchronous_commit = off and answer 250 only after a
-- later synchronous commit has flushed the WAL past them (ingest.pipelined_flush). In between,
-- the batch is visible to other sessions but not yet durable: after a crash (of PostgreSQL or
-- of the machine) it may be gone (the sender, which got no 250, delivers it again), and its
-- transaction id and event ids may be handed out again. The feed's cursor is (transaction id, event id), so it
-- must not serve such a transaction: a consumer could move past it and then miss the new copy.
--
-- The horizon is the snapshot xmin of a synchronous transaction that has committed: every
-- transaction below it ended before that commit record was written, so the flush that made
-- the horizon durable made them durable too, and after any crash new transaction ids are above
-- it. The feed serves only transactions below both the horizon and the current snapshot's xmin.
-- Anyone may move it forward with storage/sql/flush_horizon_advance.sql in a synchronous
-- transaction: the ingest flusher does with every flush, and a feed reader does when an event
-- it would serve is held back only by the horizon.
CREATE TABLE ingest_flush_horizon (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    horizon xid8 NOT NULL
);

INSERT INTO ingest_flush_horizon (horizon) VALUES (pg_snapshot_xmin(pg_current_snapshot()));
