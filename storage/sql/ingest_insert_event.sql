-- Stores one event and applies the suppression policy to it in the same statement.
WITH ev AS (
    INSERT INTO bounce_events (
        received_at, account_id, raw_message_id, sender_domain_id, mailing_id, recipient_id, envelope_address,
        token_stale, token_issued_on, recipient, recipient_domain, kind, status, reply_code, reason, hard_bounce,
        bounce_class, disposition, feedback_type, diagnostic, remote_mta, reporting_mta, original_message_id,
        rule_id, rules_version)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
            $22, $23, $24, $25)
    RETURNING id, received_at, account_id, recipient, recipient_id, disposition, bounce_class, reason
)
SELECT id, rebound_apply_suppression(account_id, id, received_at, recipient, recipient_id, disposition, bounce_class,
                                     reason)
FROM ev
