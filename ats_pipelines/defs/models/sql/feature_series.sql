-- Feature values of one timeframe as one row per symbol and feature: bar times and values (float8), read in
-- binary COPY (TimescaleResource.read_series) and put in time order by the reader. Millions of values then
-- cross the wire in a few thousand rows, and shard %(shard)s of %(shards)s lets several connections share the
-- work. Bounds: [%(start)s, %(end)s), NULL meaning open; %(symbols)s NULL means every symbol.
SELECT symbol::text,
       feature_name::text,
       array_agg("timestamp") AS times,
       array_agg(feature_value::float8) AS "values"
FROM features
WHERE timeframe = %(timeframe)s
  AND feature_name = ANY(%(features)s)
  AND "timestamp" >= coalesce(%(start)s::timestamptz, '-infinity')
  AND "timestamp" < coalesce(%(end)s::timestamptz, 'infinity')
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
  AND abs(hashtext(symbol)) %% %(shards)s = %(shard)s
GROUP BY symbol, feature_name
