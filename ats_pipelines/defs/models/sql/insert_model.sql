-- Promotion, second half (or a rejected model): the new model row.
INSERT INTO models (model_id, model_name, model_type, target, features, parameters, metrics, created_at, trained_at,
                    version, status, file_path)
VALUES (%(model_id)s, %(model_name)s, 'xgboost', %(target)s, %(features)s, %(parameters)s::jsonb,
        %(metrics)s::jsonb, %(created_at)s, now(), %(version)s, %(status)s, %(file_path)s)
