INSERT INTO suppression_policies (account_id, soft_bounce_threshold, soft_bounce_window_days, suppress_complaints)
VALUES ($1, $2, $3, $4)
ON CONFLICT (account_id) DO UPDATE
SET soft_bounce_threshold = $2, soft_bounce_window_days = $3, suppress_complaints = $4, updated_at = now()
