-- Features no longer defined stay described (their stored values remain) but are marked inactive.
UPDATE feature_metadata
SET is_active = FALSE, updated_at = now()
WHERE is_active IS NOT FALSE AND NOT (feature_name = ANY(%(names)s))
