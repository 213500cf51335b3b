SELECT DISTINCT recipient_id FROM suppressions
WHERE account_id = $1 AND recipient_id = ANY ($2::bigint[])
