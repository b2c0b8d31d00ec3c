-- The latest bar time with features of a timeframe, before %(end)s (NULL: open): where a training's look-back
-- window ends.
SELECT max("timestamp") AS latest
FROM features
WHERE timeframe = %(timeframe)s AND "timestamp" < coalesce(%(end)s::timestamptz, 'infinity')
