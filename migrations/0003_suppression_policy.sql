-- The suppression policy, applied to each event in the transaction that stores it:
--   hard bounces (bounce classes 10 and 30) and complaints suppress the recipient at once;
--   soft bounces once the recipient has soft_bounce_threshold of them within
--   soft_bounce_window_days; blocks (50-54), delays and auto-replies never suppress.
-- Per-account settings live in suppression_policies; no row means the defaults.
-- The current event may or may not be visible to the caller's snapshot (a data-modifying
-- CTE hides it), so it is excluded from the count and added once.
CREATE FUNCTION rebound_apply_suppression(
    p_account bigint, p_event bigint, p_received timestamptz, p_recipient text, p_recipient_id bigint,
    p_disposition text, p_bounce_class smallint, p_reason text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_threshold integer := 3;
    v_window_days integer := 30;
    v_complaints boolean := true;
    v_soft_count integer;
    v_cause text;
    v_address text := lower(p_recipient);
BEGIN
    IF v_address IS NULL OR position('@' IN v_address) < 2 OR length(v_address) > 320 THEN
        RETURN NULL;
    END IF;
    SELECT soft_bounce_threshold, soft_bounce_window_days, suppress_complaints
      INTO v_threshold, v_window_days, v_complaints
      FROM suppression_policies WHERE account_id = p_account;
    IF NOT FOUND THEN
        v_threshold := 3; v_window_days := 30; v_complaints := true;
    END IF;
    IF p_bounce_class IN (10, 30) THEN
        v_cause := 'hard_bounce';
    ELSIF p_disposition = 'complaint' AND v_complaints THEN
        v_cause := 'complaint';
    ELSIF p_disposition = 'soft' THEN
        SELECT count(*) INTO v_soft_count FROM bounce_events
         WHERE account_id = p_account AND lower(recipient) = v_address AND disposition = 'soft'
           AND received_at > p_received - make_interval(days => v_window_days) AND id <> p_event;
        IF v_soft_count + 1 >= v_threshold THEN
            v_cause := 'soft_bounce';
        END IF;
    END IF;
    IF v_cause IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO suppressions (account_id, address, recipient_id, cause, reason, event_id)
    VALUES (p_account, v_address, p_recipient_id, v_cause, coalesce(p_reason, ''), p_event)
    ON CONFLICT (account_id, address) DO NOTHING;
    IF FOUND THEN
        INSERT INTO suppression_history (account_id, address, action, cause, reason, actor, event_id)
        VALUES (p_account, v_address, 'add', v_cause, coalesce(p_reason, ''), 'policy', p_event);
        RETURN v_cause;
    END IF;
    RETURN NULL;
END;
$$;
