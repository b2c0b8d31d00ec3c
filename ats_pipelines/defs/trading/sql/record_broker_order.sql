-- An order the system placed outside a signal (an emergency liquidation of a strategy's simulated book),
-- recorded with what the broker said, so the book replays it.
INSERT INTO orders (order_id, external_order_id, "timestamp", symbol, order_type, side, quantity, price, status,
                    signal_id, strategy_id, filled_quantity, filled_price, commission, updated_at)
VALUES (%(order_id)s, %(external_order_id)s, now(), %(symbol)s, 'market', %(side)s, %(quantity)s, NULL, %(status)s,
        NULL, %(strategy_id)s, %(filled_quantity)s, %(filled_price)s, %(commission)s, now())
ON CONFLICT (order_id) DO NOTHING
