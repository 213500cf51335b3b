INSERT INTO accounts (name) VALUES ($1)
RETURNING id, name, envelope_key_id, array_to_string(envelope_retired_key_ids, ','), extract(epoch FROM created_at)::bigint
