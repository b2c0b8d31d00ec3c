-- Plain PostgreSQL only: the 5m/15m/1h roll-ups of 1m stock bars as ordinary tables with the columns and
-- key of TimescaleDB's continuous aggregates (0002), so readers query stock_aggs_5m/15m/1h in either
-- mode. The market-data asset refreshes them per partition (defs/market_data/sql/refresh_rollup.sql).
CREATE TABLE stock_aggs_5m (
    "timestamp"   TIMESTAMPTZ   NOT NULL,
    symbol        VARCHAR(16)   NOT NULL,
    adjusted      BOOLEAN       NOT NULL,
    open          NUMERIC(16,6) NOT NULL,
    high          NUMERIC(16,6) NOT NULL,
    low           NUMERIC(16,6) NOT NULL,
    close         NUMERIC(16,6) NOT NULL,
    volume        NUMERIC       NOT NULL,
    vwap          NUMERIC,
    transactions  BIGINT,
    bar_count     BIGINT        NOT NULL,
    PRIMARY KEY (symbol, adjusted, "timestamp")
);
CREATE TABLE stock_aggs_15m (LIKE stock_aggs_5m INCLUDING ALL);
CREATE TABLE stock_aggs_1h (LIKE stock_aggs_5m INCLUDING ALL);
