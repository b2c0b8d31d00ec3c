-- Every registered model, as its metadata hash shows it.
SELECT model_id::text AS model_id, model_name, model_type, version, status, target,
       array_to_string(features, ',') AS features, metrics -> 'held_out' ->> 'auc' AS held_out_auc,
       parameters -> 'training_data' ->> 'end' AS trained_through, trained_at::text AS trained_at, file_path
FROM models
