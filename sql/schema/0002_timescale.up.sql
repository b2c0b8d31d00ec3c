-- TimescaleDB features, applied by migration 0002 only when the timescaledb extension is installed
-- in the database (plain PostgreSQL runs the same tables without them).
--
-- Chunk intervals are the spec's. Unique keys from 0001 all contain "timestamp", as hypertables require.
-- Compression segments by the column most queries filter on, orders by time; it starts only after the
-- late-correction window (the weekly re-fetch of market data covers 7 days), so routine upserts land in
-- uncompressed chunks (lessons.md #5). Retention keeps tick data and operational metrics bounded and
-- never drops bars, features of record, flow alerts or trading metrics. docs/schema.md has the table.

-- A table that 0002's downgrade left a hypertable is reused (if_not_exists) and re-set to the spec's interval.
DO $$
DECLARE h record;
BEGIN
    FOR h IN SELECT * FROM (VALUES
        ('stock_aggs',             INTERVAL '1 day'),
        ('crypto_aggs',            INTERVAL '1 day'),
        ('quotes',                 INTERVAL '1 hour'),
        ('trades',                 INTERVAL '1 hour'),
        ('options_aggs',           INTERVAL '1 day'),
        ('unusual_whales_options', INTERVAL '1 day'),
        ('features',               INTERVAL '1 day'),
        ('system_metrics',         INTERVAL '1 hour'),
        ('trading_metrics',        INTERVAL '1 day')
    ) AS spec(table_name, chunk_interval) LOOP
        PERFORM create_hypertable(h.table_name::regclass, by_range('timestamp', h.chunk_interval),
                                  create_default_indexes => false, migrate_data => true, if_not_exists => true);
        PERFORM set_chunk_time_interval(h.table_name::regclass, h.chunk_interval);
    END LOOP;
END $$;

ALTER TABLE stock_aggs SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol, timeframe', timescaledb.compress_orderby = '"timestamp" DESC, adjusted');
ALTER TABLE crypto_aggs SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol, timeframe', timescaledb.compress_orderby = '"timestamp" DESC');
ALTER TABLE quotes SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = '"timestamp" DESC, sequence_number DESC');
ALTER TABLE trades SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol', timescaledb.compress_orderby = '"timestamp" DESC, exchange, trade_id');
ALTER TABLE options_aggs SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'underlying, timeframe', timescaledb.compress_orderby = 'symbol, "timestamp" DESC');
ALTER TABLE unusual_whales_options SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'underlying', timescaledb.compress_orderby = '"timestamp" DESC, alert_id');
ALTER TABLE features SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol, feature_name', timescaledb.compress_orderby = '"timestamp" DESC, timeframe');
ALTER TABLE system_metrics SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'metric_name, component', timescaledb.compress_orderby = '"timestamp" DESC, host');
ALTER TABLE trading_metrics SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'metric_name', timescaledb.compress_orderby = '"timestamp" DESC');

SELECT add_compression_policy('stock_aggs',             compress_after => INTERVAL '14 days');
SELECT add_compression_policy('crypto_aggs',            compress_after => INTERVAL '14 days');
SELECT add_compression_policy('options_aggs',           compress_after => INTERVAL '14 days');
SELECT add_compression_policy('quotes',                 compress_after => INTERVAL '2 days');
SELECT add_compression_policy('trades',                 compress_after => INTERVAL '2 days');
SELECT add_compression_policy('unusual_whales_options', compress_after => INTERVAL '14 days');
SELECT add_compression_policy('features',               compress_after => INTERVAL '14 days');
SELECT add_compression_policy('system_metrics',         compress_after => INTERVAL '3 days');
SELECT add_compression_policy('trading_metrics',        compress_after => INTERVAL '14 days');

SELECT add_retention_policy('quotes',         drop_after => INTERVAL '90 days');
SELECT add_retention_policy('trades',         drop_after => INTERVAL '365 days');
SELECT add_retention_policy('system_metrics', drop_after => INTERVAL '30 days');

-- Continuous aggregates: 5m / 15m / 1h stock bars rolled up from the 1m bars. The same roll-up runs
-- as plain SQL on PostgreSQL (ats_pipelines/defs/market_data/sql/derive_bars.sql); a test checks that
-- both give the same bars. Buckets are aligned to UTC like Polygon's own multi-minute bars.
CREATE MATERIALIZED VIEW stock_aggs_5m WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT time_bucket(INTERVAL '5 minutes', "timestamp") AS "timestamp", symbol, adjusted,
       first(open, "timestamp") AS open, max(high) AS high, min(low) AS low, last(close, "timestamp") AS close,
       sum(volume) AS volume,
       sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL)
           / NULLIF(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0) AS vwap,
       sum(transactions) AS transactions, count(*) AS bar_count
FROM stock_aggs WHERE timeframe = '1m'
GROUP BY time_bucket(INTERVAL '5 minutes', "timestamp"), symbol, adjusted
WITH NO DATA;

CREATE MATERIALIZED VIEW stock_aggs_15m WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT time_bucket(INTERVAL '15 minutes', "timestamp") AS "timestamp", symbol, adjusted,
       first(open, "timestamp") AS open, max(high) AS high, min(low) AS low, last(close, "timestamp") AS close,
       sum(volume) AS volume,
       sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL)
           / NULLIF(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0) AS vwap,
       sum(transactions) AS transactions, count(*) AS bar_count
FROM stock_aggs WHERE timeframe = '1m'
GROUP BY time_bucket(INTERVAL '15 minutes', "timestamp"), symbol, adjusted
WITH NO DATA;

CREATE MATERIALIZED VIEW stock_aggs_1h WITH (timescaledb.continuous, timescaledb.materialized_only = true) AS
SELECT time_bucket(INTERVAL '1 hour', "timestamp") AS "timestamp", symbol, adjusted,
       first(open, "timestamp") AS open, max(high) AS high, min(low) AS low, last(close, "timestamp") AS close,
       sum(volume) AS volume,
       sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL)
           / NULLIF(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0) AS vwap,
       sum(transactions) AS transactions, count(*) AS bar_count
FROM stock_aggs WHERE timeframe = '1m'
GROUP BY time_bucket(INTERVAL '1 hour', "timestamp"), symbol, adjusted
WITH NO DATA;

-- Refresh the recent window every few minutes; older buckets are refreshed explicitly after a backfill.
SELECT add_continuous_aggregate_policy('stock_aggs_5m',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '5 minutes', schedule_interval => INTERVAL '5 minutes');
SELECT add_continuous_aggregate_policy('stock_aggs_15m',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '15 minutes', schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('stock_aggs_1h',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes');
