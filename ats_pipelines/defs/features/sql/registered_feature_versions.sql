-- The registered (current) version of each named active feature: what the last features run defined.
SELECT feature_name::text, version::text FROM feature_metadata
WHERE feature_name = ANY(%(names)s) AND is_active AND version IS NOT NULL
