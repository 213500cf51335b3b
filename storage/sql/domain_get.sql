-- One live sender domain of an account (DomainService).
SELECT d.id, d.account_id, d.domain, d.feedback_label, d.feedback_domain, d.state,
       (extract(epoch FROM d.state_since) * 1000000)::bigint,
       coalesce((extract(epoch FROM d.last_checked_at) * 1000000)::bigint, 0),
       (extract(epoch FROM d.next_check_at) * 1000000)::bigint,
       d.check_failures, coalesce(d.last_outcome, ''), coalesce(d.last_check::text, ''),
       (extract(epoch FROM d.created_at) * 1000000)::bigint
FROM sender_domains d
WHERE d.id = $1 AND d.account_id = $2 AND d.deleted_at IS NULL
