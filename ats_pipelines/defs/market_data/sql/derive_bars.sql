-- Roll 1m stock bars up into %(bucket)s bars over [%(start)s, %(end)s) for %(symbols)s.
-- The same aggregate as the TimescaleDB continuous aggregates stock_aggs_5m/15m/1h
-- (sql/schema/0002_timescale.up.sql); date_bin with time_bucket's default origin gives the same buckets.
-- Only whole buckets inside the range should be asked for: callers pass bucket-aligned bounds.
SELECT date_bin(%(bucket)s::interval, "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00') AS "timestamp",
       symbol,
       adjusted,
       (array_agg(open ORDER BY "timestamp"))[1] AS open,
       max(high) AS high,
       min(low) AS low,
       (array_agg(close ORDER BY "timestamp" DESC))[1] AS close,
       sum(volume) AS volume,
       sum(vwap * volume) FILTER (WHERE vwap IS NOT NULL)
           / NULLIF(sum(volume) FILTER (WHERE vwap IS NOT NULL), 0) AS vwap,
       sum(transactions) AS transactions,
       count(*) AS bar_count
FROM stock_aggs
WHERE timeframe = '1m' AND "timestamp" >= %(start)s AND "timestamp" < %(end)s AND symbol = ANY(%(symbols)s)
GROUP BY 1, symbol, adjusted
ORDER BY symbol, adjusted, 1
