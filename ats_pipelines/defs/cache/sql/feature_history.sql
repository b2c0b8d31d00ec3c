-- The newest %(history)s values of every feature series (symbol, feature, timeframe) with a value in
-- [%(start)s, %(end)s), newest first (rank 1 is the latest value): what the feature cache mirrors.
WITH series AS (
    SELECT DISTINCT symbol, feature_name, timeframe
    FROM features
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
)
SELECT s.symbol, s.feature_name, s.timeframe, h."timestamp", h.feature_value::float8, h.rank
FROM series AS s
CROSS JOIN LATERAL (
    SELECT f."timestamp", f.feature_value, row_number() OVER (ORDER BY f."timestamp" DESC) AS rank
    FROM features AS f
    WHERE f.symbol = s.symbol AND f.feature_name = s.feature_name AND f.timeframe = s.timeframe
    ORDER BY f."timestamp" DESC
    LIMIT %(history)s
) AS h
