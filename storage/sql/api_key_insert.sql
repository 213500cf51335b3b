INSERT INTO api_keys (account_id, prefix, secret_sha256, label) VALUES ($1, $2, $3, $4)
RETURNING extract(epoch FROM created_at)::bigint
