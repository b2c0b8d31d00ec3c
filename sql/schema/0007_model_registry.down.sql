ALTER TABLE model_training_runs DROP CONSTRAINT IF EXISTS model_training_runs_status_check;
ALTER TABLE models DROP CONSTRAINT IF EXISTS models_status_check;
DROP INDEX IF EXISTS models_one_active_per_name;
