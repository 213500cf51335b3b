WITH added AS (
    INSERT INTO suppressions (account_id, address, recipient_id, cause, reason)
    VALUES ($1, $2, $3, 'manual', $4)
    ON CONFLICT (account_id, address) DO NOTHING
    RETURNING address, coalesce(recipient_id, 0), cause, reason, coalesce(event_id, 0),
              (extract(epoch FROM created_at) * 1000000)::bigint
), history AS (
    INSERT INTO suppression_history (account_id, address, action, cause, reason, actor)
    SELECT $1, $2, 'add', 'manual', $4, 'api' FROM added
)
SELECT * FROM added
