-- Every strategy, by name: what the trading runs cover (active ones place orders).
SELECT strategy_id::text AS strategy_id, name, model_name, status, parameters::text AS parameters FROM strategies ORDER BY name
