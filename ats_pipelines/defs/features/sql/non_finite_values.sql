-- Stored feature values that are not finite numbers (NUMERIC can hold NaN and, since PostgreSQL 14,
-- infinities) in [%(start)s, %(end)s) for %(timeframes)s.
SELECT count(*) AS non_finite
FROM features
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND timeframe = ANY(%(timeframes)s)
  AND feature_value IN ('NaN'::numeric, 'Infinity'::numeric, '-Infinity'::numeric)
