-- Digests only dedupe retries; they are not needed past the raw messages' retention.
DELETE FROM message_digests WHERE received_at < now() - make_interval(days => $1::integer)
