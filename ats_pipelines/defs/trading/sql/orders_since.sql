-- Orders of the strategy created since %(since)s that went out (the daily order limit counts them): sent
-- (order_submissions) or known at the broker, and not expired unfound. A row recorded and never sent (its
-- run stopped before the submit) does not count.
SELECT count(*) AS orders FROM orders AS o
WHERE o.strategy_id = %(strategy_id)s AND o."timestamp" >= %(since)s
  AND (o.external_order_id IS NOT NULL
       OR (o.status <> 'expired' AND EXISTS (SELECT 1 FROM order_submissions AS s WHERE s.order_id = o.order_id)))
