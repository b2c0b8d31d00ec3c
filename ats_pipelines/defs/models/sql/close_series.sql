-- Closes of the timeframe's bars (the bars placeholder, as the features domain reads them) for next-bar labels, one row
-- per symbol (times and float8 closes), read and sharded like feature_series.sql. Bars at or after %(end)s are left
-- out, so no label of a bar before it looks past it.
SELECT symbol::text,
       array_agg("timestamp") AS times,
       array_agg(close::float8) AS closes
FROM {bars} AS b
WHERE "timestamp" >= coalesce(%(start)s::timestamptz, '-infinity')
  AND "timestamp" < coalesce(%(end)s::timestamptz, 'infinity')
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
  AND abs(hashtext(symbol)) %% %(shards)s = %(shard)s
GROUP BY symbol
