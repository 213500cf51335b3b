-- Whether an event after the cursor is held back by the durability horizon alone: its
-- transaction has ended, but no synchronous commit has flushed past it yet.
SELECT EXISTS (
    SELECT 1
    FROM event_rows, ingest_flush_horizon h
    WHERE account_id = $1
      AND (feed_txid, id) > ($2::text::xid8, $3)
      AND feed_txid >= h.horizon
      AND feed_txid < pg_snapshot_xmin(pg_current_snapshot()))
