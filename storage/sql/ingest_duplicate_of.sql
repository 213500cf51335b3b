SELECT raw_message_id FROM message_digests WHERE sha256 = $1
