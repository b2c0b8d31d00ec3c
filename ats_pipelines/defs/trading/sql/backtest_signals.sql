-- Every signal of the model name's models in [%(start)s, %(end)s), oldest first: what a backtest trades.
SELECT s.signal_id::text AS signal_id, s."timestamp", s.symbol, s.signal_type, s.timeframe
FROM trading_signals AS s
JOIN models AS m ON m.model_id = s.model_id AND m.model_name = %(model_name)s
WHERE s."timestamp" >= %(start)s AND s."timestamp" < %(end)s
ORDER BY s."timestamp", s.symbol
