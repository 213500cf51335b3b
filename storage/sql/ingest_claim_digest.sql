-- Claims a message digest for a new raw message id. No row back: the same message (same
-- envelope and content) was stored before, a retry after a lost reply. Concurrent claims of
-- one digest serialize on the primary key.
INSERT INTO message_digests (sha256, raw_message_id, received_at)
VALUES ($1, nextval('raw_messages_id_seq'), now())
ON CONFLICT (sha256) DO NOTHING
RETURNING raw_message_id, received_at
