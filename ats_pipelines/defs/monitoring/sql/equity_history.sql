-- The strategy's daily equity as recorded so far, oldest first.
SELECT "timestamp", metric_value::float8 AS equity FROM trading_metrics
WHERE metric_name = 'equity' AND strategy_id = %(strategy_id)s AND symbol IS NULL
ORDER BY "timestamp"
