SELECT recipient_domain, disposition, count(*)
FROM bounce_events
WHERE account_id = $1
  AND received_at >= timestamptz 'epoch' + $2 * interval '1 microsecond'
  AND received_at < timestamptz 'epoch' + $3 * interval '1 microsecond'
  AND recipient_domain IS NOT NULL
GROUP BY 1, 2
