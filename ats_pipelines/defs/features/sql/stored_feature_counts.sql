-- Stored rows per symbol, timeframe and feature in [%(start)s, %(end)s) for %(timeframes)s.
SELECT symbol, timeframe, feature_name, count(*) AS stored
FROM features
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND timeframe = ANY(%(timeframes)s)
GROUP BY symbol, timeframe, feature_name
