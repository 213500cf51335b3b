SELECT mailing_id,
       count(DISTINCT recipient_id) FILTER (WHERE disposition IN ('hard', 'soft', 'block')),
       count(DISTINCT recipient_id) FILTER (WHERE disposition = 'complaint')
FROM bounce_events
WHERE account_id = $1 AND mailing_id = ANY ($2::bigint[])
GROUP BY 1
