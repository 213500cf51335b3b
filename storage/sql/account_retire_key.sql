-- Only keys older than the current one can be retired; retiring twice is a no-op.
UPDATE accounts
SET envelope_retired_key_ids = CASE WHEN $2 = ANY (envelope_retired_key_ids) THEN envelope_retired_key_ids
                                    ELSE array_append(envelope_retired_key_ids, $2::integer) END
WHERE id = $1 AND disabled_at IS NULL AND $2::integer >= 1 AND $2::integer < envelope_key_id
RETURNING id, name, envelope_key_id, array_to_string(envelope_retired_key_ids, ','), extract(epoch FROM created_at)::bigint
