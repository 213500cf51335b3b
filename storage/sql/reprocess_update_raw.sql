UPDATE raw_messages SET parse_state = $3, parse_error = $4, rules_version = $5
WHERE id = $1 AND received_at = timestamptz 'epoch' + $2 * interval '1 microsecond'
