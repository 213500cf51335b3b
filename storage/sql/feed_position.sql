-- Every transaction older than this has ended and is durable: the start of "from now on".
SELECT least(pg_snapshot_xmin(pg_current_snapshot()), horizon)::text FROM ingest_flush_horizon
