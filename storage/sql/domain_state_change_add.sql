INSERT INTO sender_domain_state_changes (domain_id, account_id, from_state, to_state, outcome, summary)
SELECT id, account_id, $2, $3, $4, $5 FROM sender_domains WHERE id = $1
