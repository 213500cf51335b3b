-- $2: lower-case addresses joined by newline (which no address contains).
SELECT address FROM suppressions
WHERE account_id = $1 AND address = ANY (string_to_array($2, E'\n'))
