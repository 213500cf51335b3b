-- Whether an event after the cursor is held back by the durability horizon alone: its
-- transaction has ended, but no synchronous commit has moved the horizon past it yet, for
-- longer than the ingest flusher takes to (it moves it every 20 ms while it is busy). A younger
-- one is left to the flusher, so readers polling during traffic do not all write the one row.
SELECT EXISTS (
    SELECT 1
    FROM event_rows, ingest_flush_horizon h
    WHERE account_id = $1
      AND (feed_txid, id) > ($2::text::xid8, $3)
      AND feed_txid >= h.horizon
      AND feed_txid < pg_snapshot_xmin(pg_current_snapshot())
      AND received_at < now() - interval '250 milliseconds')
