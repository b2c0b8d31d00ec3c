-- Closes of the timeframe's bars ({bars}, as the features domain reads them), for next-bar labels.
SELECT symbol, "timestamp", close::float8
FROM {bars} AS b
WHERE "timestamp" >= coalesce(%(start)s::timestamptz, '-infinity')
  AND "timestamp" < coalesce(%(end)s::timestamptz, 'infinity')
  AND (%(symbols)s::text[] IS NULL OR symbol = ANY(%(symbols)s::text[]))
