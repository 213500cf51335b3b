SELECT mailing_id, disposition, reason, bounce_class, count(*)
FROM bounce_events
WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[])
GROUP BY 1, 2, 3, 4
