SELECT content FROM raw_messages WHERE id = $1
