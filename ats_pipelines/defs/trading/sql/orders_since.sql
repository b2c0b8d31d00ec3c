-- Orders of the strategy created since %(since)s (the daily order limit counts them).
SELECT count(*) AS orders FROM orders WHERE strategy_id = %(strategy_id)s AND "timestamp" >= %(since)s
