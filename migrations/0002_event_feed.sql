-- A commit-ordered feed of events for WatchEvents. Each event records the id of the
-- transaction that inserted it; readers deliver only rows whose transaction is older than
-- every transaction still in progress (pg_snapshot_xmin), ordered by (txid, id). Rows of a
-- transaction that commits late therefore can't be skipped, and a cursor (txid, id) resumes
-- without gap or duplicate.
ALTER TABLE bounce_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX bounce_events_feed ON bounce_events (account_id, txid, id);

-- The columns the API returns, in one place for every query that reads events.
CREATE VIEW event_rows AS
SELECT id,
       (extract(epoch FROM received_at) * 1000000)::bigint AS received_us,
       mailing_id, recipient_id, coalesce(envelope_address, '') AS envelope_address, token_stale,
       coalesce(recipient, '') AS recipient, coalesce(recipient_domain, '') AS recipient_domain, kind,
       coalesce(status, '') AS status, coalesce(reply_code, 0) AS reply_code, reason, hard_bounce, bounce_class,
       disposition, coalesce(feedback_type, '') AS feedback_type, coalesce(diagnostic, '') AS diagnostic,
       coalesce(remote_mta, '') AS remote_mta, coalesce(reporting_mta, '') AS reporting_mta,
       coalesce(original_message_id, '') AS original_message_id, coalesce(rule_id, '') AS rule_id,
       coalesce(rules_version, '') AS rules_version, coalesce(raw_message_id, 0) AS raw_message_id,
       txid::text AS txid,
       account_id, received_at, txid AS feed_txid
FROM bounce_events;
