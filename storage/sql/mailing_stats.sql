-- From the rollups kept by the triggers of migrations/0008_mailing_rollups.sql.
SELECT mailing_id, disposition, reason, bounce_class, sum(events)::bigint
FROM mailing_event_counts
WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[])
GROUP BY 1, 2, 3, 4
HAVING sum(events) <> 0
