-- Signals in [%(start)s, %(end)s) of the strategy's model that have no order of this strategy yet, oldest
-- first, with the close of the bar they were scored on (the sizing price): 1m and 1d bars from stock_aggs,
-- 5m/15m/1h bars from their roll-ups (stock_aggs_5m/15m/1h).
SELECT s.signal_id::text AS signal_id, s."timestamp", s.symbol, s.signal_type, s.timeframe,
       s.confidence::float8 AS confidence, b.close::float8 AS price
FROM trading_signals AS s
JOIN models AS m ON m.model_id = s.model_id AND m.model_name = %(model_name)s
LEFT JOIN LATERAL (
    SELECT a.close FROM stock_aggs AS a
    WHERE s.timeframe IN ('1m', '1d') AND a.symbol = s.symbol AND a."timestamp" = s."timestamp"
      AND a.timeframe = s.timeframe AND a.adjusted
    UNION ALL
    SELECT a.close FROM stock_aggs_5m AS a
    WHERE s.timeframe = '5m' AND a.symbol = s.symbol AND a.adjusted AND a."timestamp" = s."timestamp"
    UNION ALL
    SELECT a.close FROM stock_aggs_15m AS a
    WHERE s.timeframe = '15m' AND a.symbol = s.symbol AND a.adjusted AND a."timestamp" = s."timestamp"
    UNION ALL
    SELECT a.close FROM stock_aggs_1h AS a
    WHERE s.timeframe = '1h' AND a.symbol = s.symbol AND a.adjusted AND a."timestamp" = s."timestamp"
    LIMIT 1
) AS b ON true
WHERE s."timestamp" >= %(start)s AND s."timestamp" < %(end)s
  AND NOT EXISTS (SELECT 1 FROM orders AS o WHERE o.signal_id = s.signal_id AND o.strategy_id = %(strategy_id)s)
ORDER BY s."timestamp", s.symbol
