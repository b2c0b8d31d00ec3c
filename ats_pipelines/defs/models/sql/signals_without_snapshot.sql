-- Signals in [%(start)s, %(end)s) without the feature values they were computed from.
SELECT count(*) AS signals_without_snapshot
FROM trading_signals
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
  AND (features_snapshot IS NULL OR features_snapshot = '{}'::jsonb)
