SELECT rebound_drop_expired_partitions($1::regclass, $2::integer)
