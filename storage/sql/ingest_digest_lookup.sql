-- The message stored before under digest $1, for a message of ingest_store_raw's batch that
-- it did not store. Run after that statement's commit, so it also sees a claim made by a
-- concurrent transaction that the insert waited for.
SELECT raw_message_id FROM message_digests WHERE sha256 = $1
