-- DEVIATION from the spec: trades.symbol and quotes.symbol are VARCHAR(32), not VARCHAR(16), so they hold OCC
-- option tickers (`O:SPY240315C00500000` is 20 characters; options_aggs already uses 32). Widening a varchar
-- rewrites nothing. Under TimescaleDB the migration suspends compression around it (migration_ops).
ALTER TABLE trades ALTER COLUMN symbol TYPE VARCHAR(32);
ALTER TABLE quotes ALTER COLUMN symbol TYPE VARCHAR(32);
