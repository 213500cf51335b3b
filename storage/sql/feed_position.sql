-- Every transaction older than this has ended: the start of "from now on".
SELECT pg_snapshot_xmin(pg_current_snapshot())::text
