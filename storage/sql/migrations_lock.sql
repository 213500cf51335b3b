-- Session-level lock that serializes concurrent migration runners. 0x7265626f756e64 = "rebound".
SELECT pg_advisory_lock(32199642103180900)
