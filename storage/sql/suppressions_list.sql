SELECT address, coalesce(recipient_id, 0), cause, reason, coalesce(event_id, 0),
       (extract(epoch FROM created_at) * 1000000)::bigint
FROM suppressions
WHERE account_id = $1 AND address > $2 AND ($3::text IS NULL OR cause = $3)
ORDER BY address
LIMIT $4
