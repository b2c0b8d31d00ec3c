-- Models whose metrics are missing or lack the held-out evaluation the promotion gate used.
SELECT count(*) AS models_without_metrics
FROM models
WHERE metrics IS NULL OR NOT (metrics ? 'held_out') OR metrics -> 'held_out' ->> 'auc' IS NULL
