-- Orders this run recorded and then did not send (a stop came, or the broker errors in a row halted the run):
-- removed with their order_submissions rows, so their signals are pending again, as if never recorded.
DELETE FROM orders
WHERE order_id = ANY(%(order_ids)s::uuid[]) AND status = 'pending_new' AND external_order_id IS NULL
