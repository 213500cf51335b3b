SELECT rebound_compact_mailing_rollups($1)
