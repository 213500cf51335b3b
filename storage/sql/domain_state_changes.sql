-- An account's domain state changes after id $2 (all domains when $3 is 0), oldest first.
SELECT c.id, c.domain_id, d.feedback_domain, c.from_state, c.to_state, c.outcome, c.summary,
       (extract(epoch FROM c.changed_at) * 1000000)::bigint
FROM sender_domain_state_changes c
JOIN sender_domains d ON d.id = c.domain_id
WHERE c.account_id = $1 AND c.id > $2 AND ($3 = 0 OR c.domain_id = $3)
ORDER BY c.id
LIMIT $4
