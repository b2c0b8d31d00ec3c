-- The UTC days of one timeframe whose every named feature was computed by the given version of it.
SELECT v.day
FROM feature_versions AS v
JOIN unnest(%(names)s::text[], %(versions)s::text[]) AS c(name, version)
  ON v.feature_name = c.name AND v.version = c.version
WHERE v.timeframe = %(timeframe)s
GROUP BY v.day
HAVING count(*) = cardinality(%(names)s::text[])
ORDER BY v.day
