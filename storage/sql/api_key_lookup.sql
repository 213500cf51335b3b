SELECT k.account_id, k.secret_sha256, k.revoked_at IS NOT NULL OR a.disabled_at IS NOT NULL
FROM api_keys k JOIN accounts a ON a.id = k.account_id
WHERE k.prefix = $1
