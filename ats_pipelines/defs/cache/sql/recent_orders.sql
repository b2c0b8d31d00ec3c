-- Orders still pending, and every order updated in the last %(days)s days, for order:{order_id};
-- pending ones also go to the pending_orders set.
SELECT order_id::text AS order_id, coalesce(external_order_id, '') AS external_order_id, "timestamp"::text AS "timestamp",
       symbol, order_type, side, quantity::text AS quantity, coalesce(price::text, '') AS price, status,
       coalesce(signal_id::text, '') AS signal_id, coalesce(strategy_id::text, '') AS strategy_id,
       coalesce(filled_quantity, 0)::text AS filled_quantity, coalesce(filled_price::text, '') AS filled_price,
       coalesce(commission, 0)::text AS commission, updated_at::text AS updated_at,
       status IN ('new', 'pending_new', 'accepted', 'pending', 'partially_filled') AS pending
FROM orders
WHERE status IN ('new', 'pending_new', 'accepted', 'pending', 'partially_filled')
   OR updated_at >= now() - make_interval(days => %(days)s)
