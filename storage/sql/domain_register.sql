-- Registers a feedback domain for an account, or revives the account's own deleted one.
-- No row when the feedback domain is taken (by this account or another).
INSERT INTO sender_domains AS d (account_id, domain, feedback_label, feedback_domain)
VALUES ($1, $2, $3, $4)
ON CONFLICT (feedback_domain) DO UPDATE
    SET deleted_at = NULL, state = 'pending', state_since = now(), last_checked_at = NULL, next_check_at = now(),
        check_failures = 0, last_check = NULL, last_outcome = NULL, created_at = now()
    WHERE d.account_id = EXCLUDED.account_id AND d.deleted_at IS NOT NULL
      AND d.domain = EXCLUDED.domain AND d.feedback_label = EXCLUDED.feedback_label
RETURNING d.id
