-- Positions that are open now, one per symbol (the newest if a symbol has several).
SELECT DISTINCT ON (symbol) symbol, position_id::text AS position_id, quantity::text AS quantity,
       entry_price::text AS entry_price, current_price::text AS current_price, entry_time::text AS entry_time,
       last_update::text AS last_update, coalesce(strategy_id::text, '') AS strategy_id, status, pnl::text AS pnl,
       pnl_percentage::text AS pnl_percentage
FROM positions
WHERE status = 'open'
ORDER BY symbol, last_update DESC
