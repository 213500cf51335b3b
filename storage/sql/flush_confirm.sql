-- A transaction with an id, so that its synchronous commit writes a commit record and waits
-- for the WAL flush up to it, which covers every commit before it.
SELECT pg_current_xact_id()::text
