DELETE FROM bounce_events
WHERE raw_message_id = $1 AND received_at = timestamptz 'epoch' + $2 * interval '1 microsecond'
