-- Events after the cursor (txid, id) in commit order, only from transactions older than
-- every transaction still in progress, so that nothing can later appear before the cursor,
-- and below the durability horizon, so that nothing served can be lost in a crash.
SELECT id, received_us, mailing_id, recipient_id, envelope_address, token_stale, recipient, recipient_domain, kind,
       status, reply_code, reason, hard_bounce, bounce_class, disposition, feedback_type, diagnostic, remote_mta,
       reporting_mta, original_message_id, rule_id, rules_version, raw_message_id, txid
FROM event_rows
WHERE account_id = $1
  AND (feed_txid, id) > ($2::text::xid8, $3)
  AND feed_txid < (SELECT least(pg_snapshot_xmin(pg_current_snapshot()), horizon) FROM ingest_flush_horizon)
ORDER BY feed_txid, id
LIMIT $4
