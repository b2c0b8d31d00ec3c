-- Orders are recorded before they are submitted (lessons.md #10), a run's all in one statement: each id, hence
-- its client_order_id, is derived from the signal, so a retry or re-run finds the order instead of placing
-- another. Returns the ids this statement recorded; a row another run recorded first is left to that run.
INSERT INTO orders (order_id, "timestamp", symbol, order_type, side, quantity, price, status, signal_id,
                    strategy_id, filled_quantity, commission, updated_at)
SELECT o.order_id, now(), o.symbol, 'market', o.side, o.quantity, NULL, 'pending_new', o.signal_id,
       %(strategy_id)s, 0, 0, now()
FROM unnest(%(order_ids)s::uuid[], %(symbols)s::text[], %(sides)s::text[], %(quantities)s::numeric[],
            %(signal_ids)s::uuid[]) AS o(order_id, symbol, side, quantity, signal_id)
ON CONFLICT (order_id) DO NOTHING
RETURNING order_id::text
