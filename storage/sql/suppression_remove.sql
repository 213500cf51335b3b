WITH removed AS (
    DELETE FROM suppressions WHERE account_id = $1 AND address = $2
    RETURNING address, coalesce(recipient_id, 0), cause, reason, coalesce(event_id, 0),
              (extract(epoch FROM created_at) * 1000000)::bigint
), history AS (
    INSERT INTO suppression_history (account_id, address, action, cause, reason, actor)
    SELECT $1, $2, 'remove', cause, $3, 'api' FROM removed
)
SELECT * FROM removed
