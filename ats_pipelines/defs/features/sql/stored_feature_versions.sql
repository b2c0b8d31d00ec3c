-- Per named feature of one timeframe, the distinct versions stored for the UTC days in [%(first)s, %(end)s).
SELECT feature_name::text, array_agg(DISTINCT version::text ORDER BY version::text) AS versions
FROM feature_versions
WHERE timeframe = %(timeframe)s AND feature_name = ANY(%(names)s) AND day >= %(first)s AND day < %(end)s
GROUP BY feature_name
