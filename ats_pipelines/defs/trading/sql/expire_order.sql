-- An order the broker does not know, past its time to be found (or never sent): final, so it is neither
-- looked up again nor counted against the day's orders.
UPDATE orders SET status = 'expired', updated_at = now()
WHERE order_id = %(order_id)s AND status = 'pending_new' AND external_order_id IS NULL
