-- The strategy's equity as recorded last at or before %(at)s (the previous session's close): where the
-- day's P&L, hence the daily-loss limit, starts.
SELECT metric_value::float8 AS equity FROM trading_metrics
WHERE metric_name = 'equity' AND strategy_id = %(strategy_id)s AND symbol IS NULL AND "timestamp" <= %(at)s
ORDER BY "timestamp" DESC
LIMIT 1
