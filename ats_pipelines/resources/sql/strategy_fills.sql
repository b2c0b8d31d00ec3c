-- The fills of a strategy's orders, oldest first (by when each order was recorded): what a simulated broker
-- replays to rebuild its book.
SELECT order_id::text AS order_id, symbol, side, quantity::float8, filled_quantity::float8, filled_price::float8,
       commission::float8, status, "timestamp", updated_at
FROM orders
WHERE strategy_id = %(strategy_id)s AND external_order_id IS NOT NULL
ORDER BY "timestamp", updated_at, order_id
