-- A batch without events whose digests are all different (StoreMessages checks both): the
-- same rows as rebound_store_batch writes for it (migrations/0009_ingest_cost.sql), in one
-- statement without PL/pgSQL, without deduplicating inside the batch and without a result
-- row per message. It returns the messages it stored, by digest (hex); a message it does not
-- return was stored before, and ingest_digest_lookup finds that message.
--
-- Executor start-up of the function's larger plans was the largest part of a small batch's
-- cost. Counted with callgrind for batches of 3 messages of 4 KB: 0.65 M instructions here,
-- 1.0 M through rebound_store_batch; bench/smtp/durable.sh at 10 sessions: PostgreSQL's CPU per
-- message 68 µs instead of 80, and 5-10% more messages per second.
WITH m AS (
    SELECT decode(x.sha256, 'hex') AS digest, x.content_offset, x.size_bytes, x.mail_from, x.rcpt_to,
           x.client_address, x.helo, x.parse_state, x.parse_error, x.rules_version
    FROM json_to_recordset($1::json) AS x(
        sha256 text, content_offset integer, size_bytes integer, mail_from text, rcpt_to text, client_address inet,
        helo text, parse_state text, parse_error text, rules_version text)
), claim AS (
    -- Ids are drawn in the order of the batch: the function scan returns its rows in order.
    INSERT INTO message_digests AS d (sha256, raw_message_id, received_at)
    SELECT m.digest, nextval('raw_messages_id_seq'), now() FROM m
    ON CONFLICT (sha256) DO NOTHING
    RETURNING d.sha256, d.raw_message_id, d.received_at
)
INSERT INTO raw_messages (id, received_at, sha256, size_bytes, mail_from, rcpt_to, client_address, helo,
                          parse_state, parse_error, rules_version, content)
SELECT c.raw_message_id, c.received_at, m.digest, m.size_bytes, m.mail_from, string_to_array(m.rcpt_to, E'\n'),
       m.client_address, m.helo, m.parse_state, m.parse_error, m.rules_version,
       substring($2::bytea FROM m.content_offset + 1 FOR m.size_bytes)
FROM claim c JOIN m ON m.digest = c.sha256
RETURNING id, encode(sha256, 'hex')
