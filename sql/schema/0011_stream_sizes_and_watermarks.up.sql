-- DEVIATION from the spec: trade and quote sizes are NUMERIC(20,8), not INTEGER. Crypto sizes are fractional
-- (a 0.06 BTC trade), and so are some equity odd lots; INTEGER truncated them. Under TimescaleDB the migration
-- suspends compression around the type change (migration_ops.compression_suspended).
ALTER TABLE trades ALTER COLUMN size TYPE NUMERIC(20,8);
ALTER TABLE quotes ALTER COLUMN bid_size TYPE NUMERIC(20,8);
ALTER TABLE quotes ALTER COLUMN ask_size TYPE NUMERIC(20,8);

-- ADDITION: where `ats stream` knows a symbol's minute bars are stored through (every bar up to and including
-- bars_complete_through is in stock_aggs / crypto_aggs). A new stream process resumes its gap fill from here.
CREATE TABLE stream_bar_watermarks (
    symbol                 VARCHAR(32)  NOT NULL,
    timeframe              VARCHAR(8)   NOT NULL,
    bars_complete_through  TIMESTAMPTZ  NOT NULL,
    updated_at             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, timeframe)
);
