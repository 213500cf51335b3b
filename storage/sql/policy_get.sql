SELECT soft_bounce_threshold, soft_bounce_window_days, suppress_complaints
FROM suppression_policies WHERE account_id = $1
