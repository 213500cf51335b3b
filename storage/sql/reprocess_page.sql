-- Raw messages of [since, until) after the keyset (received_at, id), oldest first.
-- Times are microseconds since the epoch.
SELECT id, (extract(epoch FROM received_at) * 1000000)::bigint, mail_from, array_to_string(rcpt_to, E'\n'),
       coalesce(host(client_address), ''), coalesce(helo, ''), content
FROM raw_messages
WHERE received_at >= timestamptz 'epoch' + $1 * interval '1 microsecond'
  AND received_at < timestamptz 'epoch' + $2 * interval '1 microsecond'
  AND (received_at, id) > (timestamptz 'epoch' + $3 * interval '1 microsecond', $4)
ORDER BY received_at, id
LIMIT $5
