-- The account's feedback domains, oldest first (the first is the default).
SELECT feedback_domain FROM sender_domains WHERE account_id = $1 AND deleted_at IS NULL ORDER BY id
