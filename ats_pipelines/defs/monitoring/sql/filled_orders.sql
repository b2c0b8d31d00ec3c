-- The strategy's fills, oldest first, for realised P&L per round trip (FIFO).
SELECT symbol, side, filled_quantity::float8 AS quantity, filled_price::float8 AS price, commission::float8
FROM orders
WHERE strategy_id = %(strategy_id)s AND filled_quantity > 0 AND filled_price IS NOT NULL
ORDER BY updated_at, order_id
