-- A training run is recorded when it starts, so a crash still leaves a trace.
INSERT INTO model_training_runs (run_id, start_time, status, parameters)
VALUES (%(run_id)s, now(), 'running', %(parameters)s::jsonb)
