-- Register one feature definition. A new name is inserted; a known name whose version changed (or that
-- was inactive) gets the new definition and a new updated_at; an unchanged one is left alone, so the
-- row count says whether anything changed. created_at keeps the first registration.
INSERT INTO feature_metadata AS m
    (feature_name, description, formula, parameters, created_at, updated_at, version, is_active)
VALUES (%(feature_name)s, %(description)s, %(formula)s, %(parameters)s::jsonb, now(), now(), %(version)s, TRUE)
ON CONFLICT (feature_name) DO UPDATE
SET description = EXCLUDED.description,
    formula = EXCLUDED.formula,
    parameters = EXCLUDED.parameters,
    version = EXCLUDED.version,
    updated_at = EXCLUDED.updated_at,
    is_active = TRUE
WHERE m.version IS DISTINCT FROM EXCLUDED.version OR m.is_active IS NOT TRUE
