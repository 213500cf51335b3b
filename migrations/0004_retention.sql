-- Retention: drops the monthly partitions of `parent` that end before now() - keep_days.
-- Whole partitions go at once (no row-by-row deletes). Returns the dropped table names.
CREATE FUNCTION rebound_drop_expired_partitions(parent regclass, keep_days integer)
RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    child record;
    month_start timestamptz;
BEGIN
    IF keep_days < 1 THEN
        RAISE EXCEPTION 'keep_days must be at least 1, got %', keep_days;
    END IF;
    FOR child IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = parent
    LOOP
        -- Partitions are named <parent>_YYYYMM by rebound_ensure_monthly_partitions.
        CONTINUE WHEN child.relname !~ '_[0-9]{6}$';
        month_start := (to_char(to_timestamp(right(child.relname, 6), 'YYYYMM'), 'YYYY-MM-01') || ' 00:00:00+00')::timestamptz;
        IF month_start + interval '1 month' <= now() - make_interval(days => keep_days) THEN
            EXECUTE format('DROP TABLE %I', child.relname);
            RETURN NEXT child.relname;
        END IF;
    END LOOP;
END;
$$;
