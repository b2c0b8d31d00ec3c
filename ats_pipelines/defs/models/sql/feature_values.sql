-- Long-format feature values of one timeframe for a model's dataset or for scoring: the named features in
-- [%(start)s, %(end)s) (NULL bounds are open), for %(symbols)s (NULL: every symbol).
SELECT symbol, "timestamp", feature_name, feature_value::float8
FROM features
WHERE timeframe = %(timeframe)s
  AND feature_name = ANY(%(features)s)
  AND "timestamp" >= coalesce(%(start)s::timestamptz, '-infinity')
  AND "timestamp" < coalesce(%(end)s::timestamptz, 'infinity')
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
