-- Ingest cost, measured with pgbench on batches of 5 bounces (each a raw message, an event, a
-- suppression and its history row): the foreign keys from bounce_events, suppressions and
-- suppression_history to accounts cost 0.21 of 1.49 ms a batch. Each checks every row it
-- inserts with a query of its own that also locks the account's row (FOR KEY SHARE), and two
-- transactions holding that lock at once share it through a multixact.
--
-- Accounts are disabled, never deleted: nothing in Rebound deletes one, and the trigger below
-- refuses a DELETE, so an account these rows name cannot go away. The rows are written by
-- ingest, with accounts taken from the registered domains, and by the API, with the account of
-- the caller's key. The keys to accounts on the small tables (api_keys, sender_domains,
-- suppression_policies) stay.

CREATE FUNCTION rebound_refuse_account_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'account % cannot be deleted: accounts are disabled (disabled_at), not deleted', OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'Events, suppressions and statistics keep naming the account.';
END;
$$;

CREATE TRIGGER accounts_refuse_delete BEFORE DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION rebound_refuse_account_delete();

ALTER TABLE bounce_events DROP CONSTRAINT bounce_events_account_id_fkey;
ALTER TABLE suppressions DROP CONSTRAINT suppressions_account_id_fkey;
ALTER TABLE suppression_history DROP CONSTRAINT suppression_history_account_id_fkey;
