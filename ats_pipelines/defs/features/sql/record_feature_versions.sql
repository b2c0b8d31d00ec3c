-- The version of each named feature for every UTC day of [%(first)s, %(last)s] of one timeframe: the
-- definition that just computed those partitions' rows. A re-run overwrites the day's row.
INSERT INTO feature_versions (timeframe, day, feature_name, version, computed_at)
SELECT %(timeframe)s, d::date, f.name, f.version, now()
FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS d
CROSS JOIN unnest(%(names)s::text[], %(versions)s::text[]) AS f(name, version)
ON CONFLICT (timeframe, day, feature_name)
    DO UPDATE SET version = EXCLUDED.version, computed_at = EXCLUDED.computed_at
