-- The strategy the orders run under, created on first use; its id is stable per name.
INSERT INTO strategies (strategy_id, name, description, model_name, parameters)
VALUES (%(strategy_id)s, %(name)s, %(description)s, %(model_name)s, %(parameters)s::jsonb)
ON CONFLICT (name) DO UPDATE
SET model_name = EXCLUDED.model_name, parameters = EXCLUDED.parameters, updated_at = now()
WHERE strategies.parameters IS DISTINCT FROM EXCLUDED.parameters
   OR strategies.model_name IS DISTINCT FROM EXCLUDED.model_name
RETURNING strategy_id::text
