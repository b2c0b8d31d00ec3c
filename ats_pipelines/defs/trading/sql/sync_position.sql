-- A position as the broker holds it; entry time is when we first saw it open.
INSERT INTO positions (position_id, symbol, quantity, entry_price, current_price, entry_time, last_update,
                       strategy_id, status, pnl, pnl_percentage)
VALUES (%(position_id)s, %(symbol)s, %(quantity)s, %(entry_price)s, %(current_price)s, now(), now(),
        %(strategy_id)s, 'open', %(pnl)s, %(pnl_percentage)s)
ON CONFLICT (position_id) DO UPDATE
SET quantity = EXCLUDED.quantity, entry_price = EXCLUDED.entry_price, current_price = EXCLUDED.current_price,
    last_update = now(), status = 'open', pnl = EXCLUDED.pnl, pnl_percentage = EXCLUDED.pnl_percentage,
    entry_time = CASE WHEN positions.status = 'open' THEN positions.entry_time ELSE now() END
