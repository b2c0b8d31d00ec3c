-- Every strategy's positions (open and closed: a strategy whose positions all closed has its keys removed),
-- for the strategy:{id}:positions and strategy:{id}:position:{symbol} keys.
SELECT strategy_id::text AS strategy_id, symbol, position_id::text AS position_id, quantity::text AS quantity,
       entry_price::text AS entry_price, current_price::text AS current_price, entry_time::text AS entry_time,
       last_update::text AS last_update, status, pnl::text AS pnl, pnl_percentage::text AS pnl_percentage
FROM positions
WHERE strategy_id IS NOT NULL
ORDER BY strategy_id, symbol
