-- Every strategy, whatever its status: an emergency stop acts on each one's simulated book.
SELECT strategy_id::text AS strategy_id FROM strategies ORDER BY name
