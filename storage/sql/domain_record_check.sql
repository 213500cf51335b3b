-- Records a check: $2 new state, $3 outcome, $4 consecutive failures, $5 seconds to the next
-- check, $6 the check as JSON. state_since moves only when the state changes.
UPDATE sender_domains
SET state_since = CASE WHEN state <> $2 THEN now() ELSE state_since END,
    state = $2, last_outcome = $3, check_failures = $4, last_checked_at = now(),
    next_check_at = now() + make_interval(secs => $5), last_check = $6::jsonb
WHERE id = $1
