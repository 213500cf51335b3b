-- Indexes shaped for the API's reads once an account has millions of events (measured with
-- bench/api/api_bench over 10M events):
--  - The primary key becomes (account_id, received_at, id). Every read is per account, and a
--    key on (received_at, id) alone made the planner walk all accounts' newest events,
--    filtering, for an account whose events were older ("newest 100" took 200 ms); the
--    separate (account_id, received_at, id) index is then redundant.
--  - The mailing index is ordered like a ListEvents page (received_at, id), so a mailing's
--    pages are a range scan instead of a sort of all its events, and it carries the columns
--    GetMailingStats counts, so statistics are an index-only scan.
-- The number of indexes each insert maintains stays the same.
ALTER TABLE bounce_events DROP CONSTRAINT bounce_events_pkey;
ALTER TABLE bounce_events ADD PRIMARY KEY (account_id, received_at, id);
DROP INDEX bounce_events_account_time;
DROP INDEX bounce_events_mailing;
CREATE INDEX bounce_events_mailing ON bounce_events (account_id, mailing_id, received_at, id)
    INCLUDE (recipient_id, bounce_class, disposition, reason);
