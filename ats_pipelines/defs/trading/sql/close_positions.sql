-- Positions the broker no longer holds are kept, as closed.
UPDATE positions SET status = 'closed', last_update = now()
WHERE status = 'open' AND strategy_id = %(strategy_id)s AND NOT (symbol = ANY(%(held)s))
