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

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.oid::regclass AS part, a.attname, p.attcompression
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_attribute p ON p.attrelid = i.inhparent AND p.attnum > 0 AND NOT p.attisdropped
                               AND p.attcompression <> ''
        JOIN pg_attribute a ON a.attrelid = i.inhrelid AND a.attname = p.attname
        WHERE i.inhparent IN ('raw_messages'::regclass, 'bounce_events'::regclass)
          AND a.attcompression IS DISTINCT FROM p.attcompression
    LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET COMPRESSION %s', r.part, r.attname,
                       CASE r.attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END);
    END LOOP;
END;
$$;

-- As in 0001, and each new partition's columns take the compression set on the parent's.
CREATE OR REPLACE FUNCTION rebound_ensure_monthly_partitions(parent regclass, from_ts timestamptz, months integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    created integer := 0;
    lo timestamptz;
    hi timestamptz;
    part text;
    col record;
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
            FOR col IN
                SELECT attname, attcompression FROM pg_attribute
                WHERE attrelid = parent AND attnum > 0 AND NOT attisdropped AND attcompression <> ''
            LOOP
                EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION %s', part, col.attname,
                               CASE col.attcompression WHEN 'l' THEN 'lz4' ELSE 'pglz' END);
            END LOOP;
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END;
$$;

-- As in 0005, with the events in a statement of their own.
CREATE OR REPLACE FUNCTION rebound_store_batch(p_messages json, p_contents bytea, p_events json)
RETURNS TABLE (out_ord integer, out_raw_message_id bigint, out_duplicate boolean, out_events integer,
               out_suppressed integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_ords integer[];    -- every message of the batch, with its digest
    v_digests bytea[];
    v_claimed_ords integer[];
    v_claimed_ids bigint[];
    -- The stored events, in id order, with what the suppression policy needs.
    v_event_ids bigint[];
    v_event_raw_ids bigint[];
    v_event_accounts bigint[];
    v_event_recipients text[];
    v_event_recipient_ids bigint[];
    v_event_dispositions text[];
    v_event_classes smallint[];
    v_event_reasons text[];
    v_received timestamptz;
    v_suppressed_raw bigint[] := '{}';
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
    SELECT (SELECT array_agg(ord ORDER BY ord) FROM m),
           (SELECT array_agg(digest ORDER BY ord) FROM m),
           (SELECT array_agg(ord ORDER BY ord) FROM claimed),
           (SELECT array_agg(raw_message_id ORDER BY ord) FROM claimed),
           (SELECT min(received_at) FROM claimed)
      INTO v_ords, v_digests, v_claimed_ords, v_claimed_ids, v_received;

    -- The events of the claimed messages, in a statement of their own that only runs when there
    -- are some: the rollup triggers of bounce_events fire for every INSERT statement, even one
    -- that writes no row.
    IF v_claimed_ids IS NOT NULL AND json_array_length(p_events) > 0 THEN
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
                 JOIN unnest(v_claimed_ords, v_claimed_ids) AS c(ord, raw_message_id) ON c.ord = e.msg
            ORDER BY e.n
            RETURNING id, raw_message_id, account_id, recipient, recipient_id, disposition, bounce_class, reason
        )
        SELECT array_agg(id ORDER BY id), array_agg(raw_message_id ORDER BY id), array_agg(account_id ORDER BY id),
               array_agg(recipient ORDER BY id), array_agg(recipient_id ORDER BY id),
               array_agg(disposition ORDER BY id), array_agg(bounce_class ORDER BY id),
               array_agg(reason ORDER BY id)
          INTO v_event_ids, v_event_raw_ids, v_event_accounts, v_event_recipients, v_event_recipient_ids,
               v_event_dispositions, v_event_classes, v_event_reasons
          FROM ev;
    END IF;

    -- The suppression policy (as rebound_apply_suppression). Hard bounces and complaints
    -- suppress at once: one statement for the whole batch, the first event of an address
    -- naming the cause. Soft bounces count the recipient's earlier ones: event by event.
    IF v_event_ids IS NOT NULL THEN
        WITH ev AS (
            SELECT * FROM unnest(v_event_ids, v_event_raw_ids, v_event_accounts, v_event_recipients,
                                 v_event_recipient_ids, v_event_dispositions, v_event_classes, v_event_reasons)
                     AS e(id, raw_id, account_id, recipient, recipient_id, disposition, bounce_class, reason)
        ), candidates AS (
            SELECT DISTINCT ON (ev.account_id, lower(ev.recipient))
                   ev.account_id, lower(ev.recipient) AS address, ev.recipient_id, ev.id, ev.raw_id,
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
            RETURNING account_id, address, cause, reason, event_id
        ), history AS (
            INSERT INTO suppression_history (account_id, address, action, cause, reason, actor, event_id)
            SELECT account_id, address, 'add', cause, reason, 'policy', event_id FROM added
        )
        SELECT coalesce(array_agg(c.raw_id), '{}') INTO v_suppressed_raw
        FROM added a JOIN candidates c ON c.id = a.event_id;

        FOR i IN 1 .. array_length(v_event_ids, 1) LOOP
            CONTINUE WHEN v_event_dispositions[i] <> 'soft' OR v_event_classes[i] IN (10, 30);
            IF rebound_apply_suppression(v_event_accounts[i], v_event_ids[i], v_received, v_event_recipients[i],
                                         v_event_recipient_ids[i], v_event_dispositions[i], v_event_classes[i],
                                         v_event_reasons[i]) IS NOT NULL THEN
                v_suppressed_raw := v_suppressed_raw || v_event_raw_ids[i];
            END IF;
        END LOOP;
    END IF;

    -- A new statement: its snapshot sees the digests that concurrent transactions committed
    -- while this one waited on them, and the ones claimed above. Only the messages that were
    -- not claimed look their digest up (one index probe each).
    RETURN QUERY
    WITH m AS (
        SELECT * FROM unnest(v_ords, v_digests) AS x(ord, digest)
    ), claimed AS (
        SELECT * FROM unnest(v_claimed_ords, v_claimed_ids) AS c(ord, raw_message_id)
    ), events AS (
        SELECT e.raw_message_id, count(*)::integer AS n
        FROM unnest(v_event_raw_ids) AS e(raw_message_id)
        GROUP BY e.raw_message_id
    ), suppressed AS (
        SELECT s.raw_message_id, count(*)::integer AS n
        FROM unnest(v_suppressed_raw) AS s(raw_message_id)
        GROUP BY s.raw_message_id
    )
    SELECT m.ord,
           CASE WHEN c.raw_message_id IS NOT NULL THEN c.raw_message_id
                ELSE (SELECT d.raw_message_id FROM message_digests d WHERE d.sha256 = m.digest)
           END,
           c.raw_message_id IS NULL,
           coalesce(ev.n, 0),
           coalesce(su.n, 0)
    FROM m
    LEFT JOIN claimed c ON c.ord = m.ord
    LEFT JOIN events ev ON ev.raw_message_id = c.raw_message_id
    LEFT JOIN suppressed su ON su.raw_message_id = c.raw_message_id
    ORDER BY m.ord;
END;
$$;
