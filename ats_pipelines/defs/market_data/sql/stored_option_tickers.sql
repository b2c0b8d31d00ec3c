-- The option contracts of %(underlyings)s with daily bars in [%(start)s, %(end)s): those options_aggs selected.
SELECT DISTINCT symbol FROM options_aggs
WHERE underlying = ANY(%(underlyings)s) AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
ORDER BY symbol
