-- Live DNS checks of sender domains (issue #7): the outcome of the last check beside the
-- state, and a history of state changes that the API lists (DomainService.ListStateChanges).
ALTER TABLE sender_domains
    ADD COLUMN last_outcome text CHECK (last_outcome IN ('ok', 'failing', 'temporary'));

CREATE TABLE sender_domain_state_changes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id   bigint NOT NULL REFERENCES sender_domains (id),
    account_id  bigint NOT NULL REFERENCES accounts (id),
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('ok', 'failing', 'temporary')),
    -- The codes of the check's error verdicts, e.g. "mx_foreign_host,spf_missing".
    summary     text NOT NULL DEFAULT '',
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sender_domain_state_changes_account ON sender_domain_state_changes (account_id, id);
