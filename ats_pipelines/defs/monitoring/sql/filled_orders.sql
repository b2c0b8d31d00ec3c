-- The strategy's fills, oldest first (by when each order was recorded, as the simulated book replays them),
-- for realised P&L per round trip (FIFO) with splits and dividends.
SELECT symbol, side, filled_quantity::float8 AS quantity, filled_price::float8 AS price, commission::float8,
       "timestamp"
FROM orders
WHERE strategy_id = %(strategy_id)s AND filled_quantity > 0 AND filled_price IS NOT NULL
ORDER BY "timestamp", updated_at, order_id
