-- Plain PostgreSQL: recompute one roll-up table ({rollup}) over [%(start)s, %(end)s) for %(symbols)s.
-- Runs after delete_rollup_range.sql in the same transaction; the SELECT is derive_bars.sql's.
INSERT INTO {rollup} ("timestamp", symbol, adjusted, open, high, low, close, volume, vwap, transactions, bar_count)
