-- Distinct recipients with a hard, soft or block event, and with a complaint, per mailing,
-- from the rollups kept by the triggers of migrations/0008_mailing_rollups.sql.
SELECT mailing_id, sum(bounced)::bigint, sum(complained)::bigint
FROM mailing_recipient_counts
WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[])
GROUP BY 1
