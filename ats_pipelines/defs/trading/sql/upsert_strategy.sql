-- A strategy created on first use (the default limits overlaid with the given parameters); later, only the
-- given parameters (and model, when given) change. The table is the source of truth: a run that names no
-- parameter changes nothing.
INSERT INTO strategies (strategy_id, name, description, model_name, parameters)
VALUES (%(strategy_id)s, %(name)s, %(description)s, coalesce(%(model_name)s::text, %(default_model)s),
        %(defaults)s::jsonb || %(given)s::jsonb)
ON CONFLICT (name) DO UPDATE
SET model_name = coalesce(%(model_name)s::text, strategies.model_name),
    parameters = strategies.parameters || %(given)s::jsonb, updated_at = now()
WHERE NOT strategies.parameters @> %(given)s::jsonb
   OR strategies.model_name IS DISTINCT FROM coalesce(%(model_name)s::text, strategies.model_name)
