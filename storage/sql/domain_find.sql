SELECT d.id, d.feedback_domain, a.id, a.envelope_key_id, array_to_string(a.envelope_retired_key_ids, ',')
FROM sender_domains d
JOIN accounts a ON a.id = d.account_id
WHERE d.feedback_domain = $1 AND d.deleted_at IS NULL AND a.disabled_at IS NULL
