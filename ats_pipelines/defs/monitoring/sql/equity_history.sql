-- The strategy's daily equity as recorded so far, oldest first (the live loop's per-bar points are left out).
SELECT "timestamp", metric_value::float8 AS equity FROM trading_metrics
WHERE metric_name = 'equity' AND strategy_id = %(strategy_id)s AND symbol IS NULL
  AND coalesce(timeframe, '1d') = '1d'
ORDER BY "timestamp"
