-- Claims up to $1 live domains whose re-check is due, pushing their next_check_at $2 seconds
-- ahead so that another reboundd does not check them at the same time.
UPDATE sender_domains d SET next_check_at = now() + make_interval(secs => $2)
WHERE d.id IN (
    SELECT id FROM sender_domains
    WHERE deleted_at IS NULL AND next_check_at <= now()
    ORDER BY next_check_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING d.id, d.account_id, d.domain, d.feedback_label, d.feedback_domain, d.state,
       (extract(epoch FROM d.state_since) * 1000000)::bigint,
       coalesce((extract(epoch FROM d.last_checked_at) * 1000000)::bigint, 0),
       (extract(epoch FROM d.next_check_at) * 1000000)::bigint,
       d.check_failures, coalesce(d.last_outcome, ''), coalesce(d.last_check::text, ''),
       (extract(epoch FROM d.created_at) * 1000000)::bigint
