UPDATE accounts SET envelope_key_id = envelope_key_id + 1
WHERE id = $1 AND disabled_at IS NULL AND envelope_key_id < 65535
RETURNING id, name, envelope_key_id, array_to_string(envelope_retired_key_ids, ','), extract(epoch FROM created_at)::bigint
