-- Close a training run: completed with its model, or failed with its error (then no model).
UPDATE model_training_runs
SET end_time = clock_timestamp(), status = %(status)s, model_id = %(model_id)s, metrics = %(metrics)s::jsonb,
    logs = %(logs)s
WHERE run_id = %(run_id)s
