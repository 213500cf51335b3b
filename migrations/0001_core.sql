-- Core schema. Sized for tens of millions of events: events and raw messages are
-- range-partitioned by month on received_at, so retention drops whole partitions.
-- uint64 identifiers of the platform (mailing, recipient) are stored bit-for-bit in bigint.

CREATE TABLE accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    -- Envelope token keys are derived from the master secret, the account id and a key id.
    -- New tokens use envelope_key_id; older ids keep verifying until listed as retired.
    envelope_key_id          integer NOT NULL DEFAULT 1 CHECK (envelope_key_id BETWEEN 1 AND 65535),
    envelope_retired_key_ids integer[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz
);

CREATE TABLE api_keys (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    -- The public, non-secret start of the key, used to find the row.
    prefix          text NOT NULL UNIQUE CHECK (length(prefix) BETWEEN 8 AND 64),
    -- SHA-256 of the whole key; the key itself is never stored.
    secret_sha256   bytea NOT NULL CHECK (length(secret_sha256) = 32),
    label           text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE sender_domains (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    domain          text NOT NULL CHECK (domain = lower(domain) AND length(domain) BETWEEN 1 AND 253),
    feedback_label  text NOT NULL DEFAULT 'feedback' CHECK (length(feedback_label) BETWEEN 1 AND 63),
    -- feedback_label.domain: the envelope domain whose MX (or CNAME) points at Rebound.
    feedback_domain text NOT NULL UNIQUE CHECK (feedback_domain = lower(feedback_domain)),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'verified', 'failing')),
    state_since     timestamptz NOT NULL DEFAULT now(),
    last_checked_at timestamptz,
    next_check_at   timestamptz NOT NULL DEFAULT now(),
    check_failures  integer NOT NULL DEFAULT 0,
    last_check      jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    UNIQUE (account_id, domain, feedback_label)
);
CREATE INDEX sender_domains_next_check ON sender_domains (next_check_at) WHERE deleted_at IS NULL;

CREATE SEQUENCE raw_messages_id_seq AS bigint;

-- Every message accepted over SMTP, stored before the 250 reply.
CREATE TABLE raw_messages (
    id              bigint NOT NULL DEFAULT nextval('raw_messages_id_seq'),
    received_at     timestamptz NOT NULL DEFAULT now(),
    sha256          bytea NOT NULL CHECK (length(sha256) = 32),
    size_bytes      integer NOT NULL CHECK (size_bytes >= 0),
    mail_from       text NOT NULL,
    rcpt_to         text[] NOT NULL,
    client_address  inet,
    helo            text,
    -- 'parsed', 'unparsed' (stored raw, parse failed; reprocessable), 'empty' (nothing decoded)
    parse_state     text NOT NULL CHECK (parse_state IN ('parsed', 'unparsed', 'empty')),
    parse_error     text,
    rules_version   text,
    content         bytea NOT NULL,
    PRIMARY KEY (received_at, id)
) PARTITION BY RANGE (received_at);
CREATE INDEX raw_messages_id ON raw_messages (id);
CREATE INDEX raw_messages_unparsed ON raw_messages (received_at) WHERE parse_state = 'unparsed';

-- Deduplication of retried deliveries: one row per distinct message content. A unique
-- index on a partitioned table must include the partition key, hence a table of its own.
CREATE TABLE message_digests (
    sha256          bytea PRIMARY KEY CHECK (length(sha256) = 32),
    raw_message_id  bigint NOT NULL,
    received_at     timestamptz NOT NULL
);
CREATE INDEX message_digests_received ON message_digests (received_at);

CREATE SEQUENCE bounce_events_id_seq AS bigint;

CREATE TABLE bounce_events (
    id                  bigint NOT NULL DEFAULT nextval('bounce_events_id_seq'),
    received_at         timestamptz NOT NULL DEFAULT now(),
    account_id          bigint NOT NULL REFERENCES accounts (id),
    raw_message_id      bigint,
    sender_domain_id    bigint,
    -- From the envelope token; NULL when unattributed (postmaster@, abuse@, mangled token).
    mailing_id          bigint,
    recipient_id        bigint,
    envelope_address    text,
    token_stale         boolean NOT NULL DEFAULT false,
    token_issued_on     date,
    -- From the parsed report.
    recipient           text,
    recipient_domain    text,
    kind                text NOT NULL CHECK (kind IN ('dsn', 'nonstandard', 'arf', 'autoreply', 'unknown')),
    status              text,
    reply_code          smallint,
    reason              text NOT NULL,
    hard_bounce         boolean NOT NULL DEFAULT false,
    bounce_class        smallint NOT NULL DEFAULT 1,
    disposition         text NOT NULL CHECK (disposition IN
                            ('hard', 'soft', 'block', 'complaint', 'auto_reply', 'delayed', 'delivered', 'undetermined')),
    feedback_type       text,
    diagnostic          text,
    remote_mta          text,
    reporting_mta       text,
    original_message_id text,
    rule_id             text,
    rules_version       text,
    PRIMARY KEY (received_at, id)
) PARTITION BY RANGE (received_at);
CREATE INDEX bounce_events_id ON bounce_events (id);
CREATE INDEX bounce_events_account_time ON bounce_events (account_id, received_at, id);
CREATE INDEX bounce_events_mailing ON bounce_events (account_id, mailing_id);
CREATE INDEX bounce_events_recipient_id ON bounce_events (account_id, recipient_id);
CREATE INDEX bounce_events_recipient ON bounce_events (account_id, lower(recipient));
CREATE INDEX bounce_events_raw ON bounce_events (raw_message_id);

-- Policy per account; a missing row means the defaults.
CREATE TABLE suppression_policies (
    account_id              bigint PRIMARY KEY REFERENCES accounts (id),
    soft_bounce_threshold   integer NOT NULL DEFAULT 3 CHECK (soft_bounce_threshold >= 1),
    soft_bounce_window_days integer NOT NULL DEFAULT 30 CHECK (soft_bounce_window_days >= 1),
    suppress_complaints     boolean NOT NULL DEFAULT true,
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE suppressions (
    account_id      bigint NOT NULL REFERENCES accounts (id),
    -- Lower-cased recipient address.
    address         text NOT NULL CHECK (address = lower(address) AND length(address) BETWEEN 3 AND 320),
    recipient_id    bigint,
    cause           text NOT NULL CHECK (cause IN ('hard_bounce', 'soft_bounce', 'complaint', 'manual')),
    reason          text NOT NULL DEFAULT '',
    event_id        bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, address)
);
CREATE INDEX suppressions_recipient_id ON suppressions (account_id, recipient_id) WHERE recipient_id IS NOT NULL;

-- Every add and remove, kept after the suppression itself is gone.
CREATE TABLE suppression_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id      bigint NOT NULL REFERENCES accounts (id),
    address         text NOT NULL,
    action          text NOT NULL CHECK (action IN ('add', 'remove')),
    cause           text NOT NULL,
    reason          text NOT NULL DEFAULT '',
    actor           text NOT NULL DEFAULT '',
    event_id        bigint,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX suppression_history_address ON suppression_history (account_id, address, at);

-- Creates the monthly partitions of `parent` covering [first month of `from_ts`, + `months`).
-- Idempotent; run by `rebound migrate` and by reboundd's maintenance task.
CREATE FUNCTION rebound_ensure_monthly_partitions(parent regclass, from_ts timestamptz, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
    lo timestamptz;
    hi timestamptz;
    part text;
BEGIN
    IF months < 1 OR months > 120 THEN
        RAISE EXCEPTION 'months must be between 1 and 120, got %', months;
    END IF;
    FOR i IN 0 .. months - 1 LOOP
        lo := date_trunc('month', from_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + make_interval(months => i);
        hi := lo + interval '1 month';
        part := format('%s_%s', parent::text, to_char(lo AT TIME ZONE 'UTC', 'YYYYMM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                           part, parent::text, lo, hi);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

SELECT rebound_ensure_monthly_partitions('raw_messages', now() - interval '1 month', 4);
SELECT rebound_ensure_monthly_partitions('bounce_events', now() - interval '1 month', 4);
