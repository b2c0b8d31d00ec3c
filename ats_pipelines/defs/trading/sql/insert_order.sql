-- An order is recorded before it is submitted (lessons.md #10): its id, hence its client_order_id, is
-- derived from the signal, so a retry or re-run finds it instead of placing another.
INSERT INTO orders (order_id, "timestamp", symbol, order_type, side, quantity, price, status, signal_id,
                    strategy_id, filled_quantity, commission, updated_at)
VALUES (%(order_id)s, now(), %(symbol)s, 'market', %(side)s, %(quantity)s, NULL, 'pending_new', %(signal_id)s,
        %(strategy_id)s, 0, 0, now())
ON CONFLICT (order_id) DO NOTHING
