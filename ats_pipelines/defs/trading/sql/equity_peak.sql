-- The strategy's highest recorded equity (trading_metrics), the reference of the drawdown limit.
SELECT max(metric_value)::float8 AS peak FROM trading_metrics
WHERE metric_name = 'equity' AND strategy_id = %(strategy_id)s
