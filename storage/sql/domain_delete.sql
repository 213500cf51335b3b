-- Soft delete: the row stays (history, events), ingest stops accepting mail for it.
UPDATE sender_domains SET deleted_at = now()
WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL
RETURNING id
