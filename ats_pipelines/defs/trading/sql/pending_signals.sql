-- Signals in [%(start)s, %(end)s) of the strategy's model that have no order of this strategy yet, oldest
-- first, with the close of the bar they were scored on (the sizing price).
SELECT s.signal_id::text AS signal_id, s."timestamp", s.symbol, s.signal_type, s.timeframe,
       s.confidence::float8 AS confidence, b.close::float8 AS price
FROM trading_signals AS s
JOIN models AS m ON m.model_id = s.model_id AND m.model_name = %(model_name)s
LEFT JOIN stock_aggs AS b
    ON b.symbol = s.symbol AND b."timestamp" = s."timestamp" AND b.timeframe = s.timeframe AND b.adjusted
WHERE s."timestamp" >= %(start)s AND s."timestamp" < %(end)s
  AND NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.signal_id = s.signal_id AND o.strategy_id = %(strategy_id)s)
ORDER BY s."timestamp", s.symbol
