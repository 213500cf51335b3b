-- Newest first; the page token is the (received_at, id) of the last row returned.
-- Optional filters are NULL when absent. Times are microseconds since the epoch.
SELECT id, received_us, mailing_id, recipient_id, envelope_address, token_stale, recipient, recipient_domain, kind,
       status, reply_code, reason, hard_bounce, bounce_class, disposition, feedback_type, diagnostic, remote_mta,
       reporting_mta, original_message_id, rule_id, rules_version, raw_message_id, txid
FROM event_rows
WHERE account_id = $1
  AND ($2::bigint IS NULL OR mailing_id = $2)
  AND ($3::bigint IS NULL OR recipient_id = $3)
  AND ($4::text IS NULL OR recipient_key = lower($4))
  AND ($5::bigint IS NULL OR received_at >= timestamptz 'epoch' + $5 * interval '1 microsecond')
  AND ($6::bigint IS NULL OR received_at < timestamptz 'epoch' + $6 * interval '1 microsecond')
  AND ($7::text IS NULL OR disposition = $7)
  AND ($8::text IS NULL OR reason = $8)
  AND ($9::bigint IS NULL OR (received_at, id) < (timestamptz 'epoch' + $9 * interval '1 microsecond', $10))
ORDER BY received_at DESC, id DESC
LIMIT $11
