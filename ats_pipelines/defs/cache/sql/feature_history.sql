-- The newest %(history)s values of every feature series (symbol, feature, timeframe) with a value in
-- [%(start)s, %(end)s), as one row per series with its times and values in time order (binary COPY, read
-- by TimescaleResource.read_series, shard %(shard)s of %(shards)s): what the feature cache mirrors.
WITH series AS (
    SELECT DISTINCT symbol, feature_name, timeframe
    FROM features
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s
)
SELECT s.symbol::text, s.feature_name::text, s.timeframe::text, h.times, h."values"
FROM series AS s
CROSS JOIN LATERAL (
    SELECT array_agg(newest."timestamp" ORDER BY newest."timestamp") AS times,
           array_agg(newest.feature_value::float8 ORDER BY newest."timestamp") AS "values"
    FROM (
        SELECT f."timestamp", f.feature_value
        FROM features AS f
        WHERE f.symbol = s.symbol AND f.feature_name = s.feature_name AND f.timeframe = s.timeframe
        ORDER BY f."timestamp" DESC
        LIMIT %(history)s
    ) AS newest
) AS h
WHERE abs(hashtext(s.symbol)) %% %(shards)s = %(shard)s
