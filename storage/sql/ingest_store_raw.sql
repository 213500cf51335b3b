-- Claims the message's digest and stores the raw message in one statement. No row back:
-- the same message (same envelope and content) was stored before, a retry after a lost
-- reply; concurrent claims of one digest serialize on the primary key.
WITH claim AS (
    INSERT INTO message_digests (sha256, raw_message_id, received_at)
    VALUES ($1, nextval('raw_messages_id_seq'), now())
    ON CONFLICT (sha256) DO NOTHING
    RETURNING raw_message_id, received_at
)
INSERT INTO raw_messages (id, received_at, sha256, size_bytes, mail_from, rcpt_to, client_address, helo,
                          parse_state, parse_error, rules_version, content)
SELECT raw_message_id, received_at, $1, $2, $3, string_to_array($4, E'\n'), $5::inet, $6, $7, $8, $9, $10
FROM claim
RETURNING id, received_at
