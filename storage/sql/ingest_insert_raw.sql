INSERT INTO raw_messages (id, received_at, sha256, size_bytes, mail_from, rcpt_to, client_address, helo,
                          parse_state, parse_error, rules_version, content)
VALUES ($1, $2, $3, $4, $5, string_to_array($6, E'\n'), $7::inet, $8, $9, $10, $11, $12)
