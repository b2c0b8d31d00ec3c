-- Orders not yet final, to reconcile with the broker.
SELECT order_id::text AS order_id FROM orders
WHERE status IN ('pending_new', 'new', 'accepted', 'partially_filled', 'pending_cancel', 'held', 'done_for_day')
