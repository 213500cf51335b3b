-- Ingest cost, measured with pgbench on batches of 8 raw 4 KB messages (1.57 ms a batch before,
-- see the notes of issue 5):
--
-- 1. Raw messages were compressed with pglz after all: 0005 set lz4 on the partitioned table,
--    but a partition does not take its parent's column compression, so every partition kept
--    the default. The existing partitions change here (only rows written from now on are
--    compressed with lz4; older ones stay readable as they are) and new partitions copy the
--    compression of their parent's columns.
-- 2. rebound_store_batch inserts events in a statement of its own, run only when the batch has
--    events: the statement-level rollup triggers of 0008 fired for every batch, events or not.
-- 3. Fewer statements and plan nodes for each batch (starting the executor for them was the
--    largest cost left): the messages in one statement with one aggregate, the events with
--    the suppressions they cause in one, the result assembled without a query unless a message
--    was a duplicate, and the rollup trigger's three statements in one.

-- Gives the columns of partition `part` the compression set on the same columns of its parent.
CREATE FUNCTION rebound_copy_column_compression(part regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT p.attname, p.attcompression
        FROM pg_inherits i
        JOIN pg_attribute p ON p.attrelid = i.inhparent AND p.attnum > 0 AND NOT p.attisdropped
                               AND p.attcompression <> ''
        JOIN pg_attribute a ON a.attrelid = i.inhrelid AND a.attname = p.attname
        WHERE i.inhrelid = part AND a.attcompression IS DISTINCT FROM p.attcompression
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION %s', part, col.attname,
                       CASE col.attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END);
    END LOOP;
END;
$$;

SELECT rebound_copy_column_compression(i.inhrelid)
FROM pg_inherits i
WHERE i.inhparent IN ('raw_messages'::regclass, 'bounce_events'::regclass);

-- As in 0001, and each new partition's columns take the compression set on the parent's.
CREATE OR REPLACE FUNCTION rebound_ensure_monthly_partitions(parent regclass, from_ts timestamptz, months integer)
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
            PERFORM rebound_copy_column_compression(format('%I', part)::regclass);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

-- As in 0005 (same arguments, same result), in fewer statements.
CREATE OR REPLACE FUNCTION rebound_store_batch(p_messages json, p_contents bytea, p_events json)
RETURNS TABLE (out_ord integer, out_raw_message_id bigint, out_duplicate boolean, out_events integer,
               out_suppressed integer)
LANGUAGE plpgsql AS $$
DECLARE
    -- Every message of the batch in ord order: its digest, and its raw message id when this call
    -- stored it (NULL for a duplicate).
    v_ords integer[];
    v_digests bytea[];
    v_ids bigint[];
    v_received timestamptz;
    -- The raw message of each stored event, and of each recipient it suppressed.
    v_event_raw_ids bigint[] := '{}';
    v_suppressed_raw bigint[] := '{}';
    -- The soft bounces, for the policy's event-by-event count.
    v_soft_count integer := 0;
    v_soft record;
    v_id bigint;
BEGIN
    WITH m AS (
        SELECT x.*, decode(x.sha256, 'hex') AS digest
        FROM json_to_recordset(p_messages) AS x(
            ord integer, sha256 text, content_offset integer, size_bytes integer, mail_from text, rcpt_to text,
            client_address inet, helo text, parse_state text, parse_error text, rules_version text)
    ), first_of_digest AS (
        SELECT DISTINCT ON (m.digest) m.* FROM m ORDER BY m.digest, m.ord
    ), claim AS (
        INSERT INTO message_digests AS d (sha256, raw_message_id, received_at)
        SELECT f.digest, nextval('raw_messages_id_seq'), now()
        FROM (SELECT * FROM first_of_digest ORDER BY ord) f
        ON CONFLICT (sha256) DO NOTHING
        RETURNING d.sha256, d.raw_message_id, d.received_at
    ), claimed AS (
        SELECT f.*, c.raw_message_id, c.received_at
        FROM claim c JOIN first_of_digest f ON f.digest = c.sha256
    ), raw AS (
        INSERT INTO raw_messages (id, received_at, sha256, size_bytes, mail_from, rcpt_to, client_address, helo,
                                  parse_state, parse_error, rules_version, content)
        SELECT c.raw_message_id, c.received_at, c.digest, c.size_bytes, c.mail_from,
               string_to_array(c.rcpt_to, E'\n'), c.client_address, c.helo, c.parse_state, c.parse_error,
               c.rules_version, substring(p_contents FROM c.content_offset + 1 FOR c.size_bytes)
        FROM claimed c
    )
    SELECT array_agg(m.ord ORDER BY m.ord), array_agg(m.digest ORDER BY m.ord),
           array_agg(c.raw_message_id ORDER BY m.ord), min(c.received_at)
      INTO v_ords, v_digests, v_ids, v_received
      FROM m LEFT JOIN claimed c ON c.ord = m.ord;

    -- The events of the stored messages and, in the same statement, the suppression policy for
    -- hard bounces and complaints (as rebound_apply_suppression: the first event of an address
    -- names the cause). Only when there are events: the rollup triggers of bounce_events fire
    -- for every INSERT statement, even one that writes no row.
    IF v_received IS NOT NULL AND json_array_length(p_events) > 0 THEN
        WITH ev AS (
            INSERT INTO bounce_events (
                received_at, account_id, raw_message_id, sender_domain_id, mailing_id, recipient_id,
                envelope_address, token_stale, token_issued_on, recipient, recipient_domain, kind, status,
                reply_code, reason, hard_bounce, bounce_class, disposition, feedback_type, diagnostic, remote_mta,
                reporting_mta, original_message_id, rule_id, rules_version)
            SELECT v_received, e.account_id, c.raw_message_id, e.sender_domain_id, e.mailing_id, e.recipient_id,
                   e.envelope_address, e.token_stale, e.token_issued_on, e.recipient, e.recipient_domain, e.kind,
                   e.status, e.reply_code, e.reason, e.hard_bounce, e.bounce_class, e.disposition,
                   e.feedback_type, e.diagnostic, e.remote_mta, e.reporting_mta, e.original_message_id, e.rule_id,
                   e.rules_version
            FROM json_to_recordset(p_events) AS e(
                     msg integer, account_id bigint, sender_domain_id bigint, mailing_id bigint,
                     recipient_id bigint, envelope_address text, token_stale boolean, token_issued_on date,
                     recipient text, recipient_domain text, kind text, status text, reply_code smallint,
                     reason text, hard_bounce boolean, bounce_class smallint, disposition text,
                     feedback_type text, diagnostic text, remote_mta text, reporting_mta text,
                     original_message_id text, rule_id text, rules_version text, n bigint)
                 JOIN unnest(v_ords, v_ids) AS c(ord, raw_message_id) ON c.ord = e.msg
            WHERE c.raw_message_id IS NOT NULL
            ORDER BY e.n
            RETURNING id, raw_message_id, account_id, recipient, recipient_id, disposition, bounce_class, reason
        ), candidates AS (
            SELECT DISTINCT ON (ev.account_id, lower(ev.recipient))
                   ev.account_id, lower(ev.recipient) AS address, ev.recipient_id, ev.id, ev.raw_message_id,
                   CASE WHEN ev.bounce_class IN (10, 30) THEN 'hard_bounce' ELSE 'complaint' END AS cause,
                   coalesce(ev.reason, '') AS reason
            FROM ev LEFT JOIN suppression_policies p ON p.account_id = ev.account_id
            WHERE position('@' IN lower(ev.recipient)) >= 2 AND length(ev.recipient) <= 320
              AND (ev.bounce_class IN (10, 30)
                   OR (ev.disposition = 'complaint' AND coalesce(p.suppress_complaints, true)))
            ORDER BY ev.account_id, lower(ev.recipient), ev.id
        ), added AS (
            INSERT INTO suppressions (account_id, address, recipient_id, cause, reason, event_id)
            SELECT account_id, address, recipient_id, cause, reason, id FROM candidates
            ON CONFLICT (account_id, address) DO NOTHING
            RETURNING event_id
        ), history AS (
            INSERT INTO suppression_history (account_id, address, action, cause, reason, actor, event_id)
            SELECT c.account_id, c.address, 'add', c.cause, c.reason, 'policy', c.id
            FROM added a JOIN candidates c ON c.id = a.event_id
        )
        SELECT (SELECT array_agg(raw_message_id) FROM ev),
               (SELECT count(*) FROM ev WHERE disposition = 'soft' AND bounce_class NOT IN (10, 30)),
               (SELECT coalesce(array_agg(c.raw_message_id), '{}') FROM added a JOIN candidates c ON c.id = a.event_id)
          INTO v_event_raw_ids, v_soft_count, v_suppressed_raw;

        -- Soft bounces count the recipient's earlier ones: event by event, in id order, each
        -- seeing the events before it (this statement sees the ones inserted above).
        IF v_soft_count > 0 THEN
            FOR v_soft IN
                SELECT e.id, e.raw_message_id, e.account_id, e.recipient, e.recipient_id, e.disposition, e.bounce_class,
                       e.reason
                FROM bounce_events e
                WHERE e.received_at = v_received AND e.raw_message_id = ANY (v_ids)
                  AND e.disposition = 'soft' AND e.bounce_class NOT IN (10, 30)
                ORDER BY e.id
            LOOP
                IF rebound_apply_suppression(v_soft.account_id, v_soft.id, v_received, v_soft.recipient,
                                             v_soft.recipient_id, v_soft.disposition, v_soft.bounce_class,
                                             v_soft.reason) IS NOT NULL THEN
                    v_suppressed_raw := v_suppressed_raw || v_soft.raw_message_id;
                END IF;
            END LOOP;
        END IF;
    END IF;

    -- One row per message, in ord order. A duplicate looks its digest up: this is a new
    -- statement, whose snapshot sees the digests that concurrent transactions committed while
    -- this one waited on them.
    FOR i IN 1 .. coalesce(array_length(v_ords, 1), 0) LOOP
        out_ord := v_ords[i];
        v_id := v_ids[i];
        out_duplicate := v_id IS NULL;
        IF out_duplicate THEN
            SELECT d.raw_message_id INTO v_id FROM message_digests d WHERE d.sha256 = v_digests[i];
            out_events := 0;
            out_suppressed := 0;
        ELSE
            out_events := coalesce(cardinality(array_positions(v_event_raw_ids, v_id)), 0);
            out_suppressed := coalesce(cardinality(array_positions(v_suppressed_raw, v_id)), 0);
        END IF;
        out_raw_message_id := v_id;
        RETURN NEXT;
    END LOOP;
END;
$$;

-- As in 0008, in one statement; a statement that wrote no row (an UPDATE matching nothing)
-- inserts nothing.
CREATE OR REPLACE FUNCTION rebound_rollup_events_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH counts AS (
        INSERT INTO mailing_event_counts (account_id, mailing_id, disposition, reason, bounce_class, events)
        SELECT account_id, mailing_id, disposition, reason, bounce_class, count(*)
        FROM added WHERE mailing_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    ), new_facts AS (
        INSERT INTO mailing_recipient_facts (account_id, mailing_id, recipient_id, fact)
        SELECT DISTINCT account_id, mailing_id, recipient_id, rebound_recipient_fact(disposition)
        FROM added
        WHERE mailing_id IS NOT NULL AND recipient_id IS NOT NULL AND rebound_recipient_fact(disposition) IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING account_id, mailing_id, fact
    )
    INSERT INTO mailing_recipient_counts (account_id, mailing_id, bounced, complained)
    SELECT account_id, mailing_id, count(*) FILTER (WHERE fact = 'b'), count(*) FILTER (WHERE fact = 'c')
    FROM new_facts
    GROUP BY 1, 2;
    RETURN NULL;
END;
$$;
