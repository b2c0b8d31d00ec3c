-- Orders not yet final (of one strategy, or all), to reconcile with the broker, with whether and how long
-- ago each was sent, and what each may still fill (the risk book counts it).
SELECT o.order_id::text AS order_id, s.sent_at IS NOT NULL AS sent,
       coalesce(extract(epoch FROM now() - s.sent_at) / 60, 0)::float8 AS minutes_since_sent,
       o.symbol, o.side, (o.quantity - coalesce(o.filled_quantity, 0))::float8 AS remaining
FROM orders AS o
LEFT JOIN order_submissions AS s ON s.order_id = o.order_id
WHERE (%(strategy_id)s::uuid IS NULL OR o.strategy_id = %(strategy_id)s::uuid)
  AND o.status IN ('pending_new', 'new', 'accepted', 'partially_filled', 'pending_cancel', 'held', 'done_for_day')
ORDER BY o."timestamp", o.order_id
