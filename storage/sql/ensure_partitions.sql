SELECT rebound_ensure_monthly_partitions('raw_messages', now() - interval '1 month', $1::integer + 2)
     + rebound_ensure_monthly_partitions('bounce_events', now() - interval '1 month', $1::integer + 2)
