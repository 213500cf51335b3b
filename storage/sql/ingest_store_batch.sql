-- A whole group commit in one call; see rebound_store_batch in migrations/0005_ingest_batch.sql.
SELECT out_ord, out_raw_message_id, out_duplicate, out_events, out_suppressed
FROM rebound_store_batch($1::json, $2, $3::json)
