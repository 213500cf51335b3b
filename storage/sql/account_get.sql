SELECT id, name, envelope_key_id, array_to_string(envelope_retired_key_ids, ','), extract(epoch FROM created_at)::bigint
FROM accounts WHERE id = $1 AND disabled_at IS NULL
