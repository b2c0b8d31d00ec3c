-- Versions grow per model name: 1, 2, 3, ...
SELECT (coalesce(max(version::int) FILTER (WHERE version ~ '^[0-9]+$'), 0) + 1)::text AS version
FROM models
WHERE model_name = %(model_name)s
