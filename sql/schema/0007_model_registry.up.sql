-- The model registry's guarantees, kept by the database rather than by the code that writes it.
-- One active model per name: promoting a model retires the old one in the same transaction, and two
-- trainings promoting at once cannot both win.
CREATE UNIQUE INDEX models_one_active_per_name ON models (model_name) WHERE status = 'active';
ALTER TABLE models ADD CONSTRAINT models_status_check CHECK (status IN ('active', 'rejected', 'retired'));
ALTER TABLE model_training_runs ADD CONSTRAINT model_training_runs_status_check
    CHECK (status IN ('running', 'completed', 'failed'));
