-- Reverse of 0002_timescale.up.sql. Hypertables cannot be turned back into plain tables in place;
-- they stay hypertables (without compression or policies) until 0001's downgrade drops them.
DROP MATERIALIZED VIEW IF EXISTS stock_aggs_1h, stock_aggs_15m, stock_aggs_5m;

SELECT remove_retention_policy(t, if_exists => true)
FROM unnest(ARRAY['quotes', 'trades', 'system_metrics']::regclass[]) AS t;

SELECT remove_compression_policy(h.hypertable_name::regclass, if_exists => true)
FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = current_schema();

SELECT decompress_chunk(c, if_compressed => true)
FROM timescaledb_information.hypertables h, show_chunks(h.hypertable_name::regclass) c
WHERE h.hypertable_schema = current_schema() AND h.compression_enabled;

DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT hypertable_name FROM timescaledb_information.hypertables
             WHERE hypertable_schema = current_schema() AND compression_enabled LOOP
        EXECUTE format('ALTER TABLE %I SET (timescaledb.compress = false)', t);
    END LOOP;
END $$;
