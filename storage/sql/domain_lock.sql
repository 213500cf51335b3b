-- The state of a live domain before a check result is recorded, locked until commit.
SELECT state, check_failures FROM sender_domains WHERE id = $1 AND deleted_at IS NULL FOR UPDATE
