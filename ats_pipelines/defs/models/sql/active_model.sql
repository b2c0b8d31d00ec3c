-- The active model of a name (at most one: models_one_active_per_name).
SELECT model_id::text AS model_id, version, features, parameters::text AS parameters, metrics::text AS metrics,
       file_path
FROM models
WHERE model_name = %(model_name)s AND status = 'active'
