-- The adjusted bars of %(symbol)s and %(timeframe)s starting after %(after)s, oldest first: where a simulated
-- order fills (the next bar's open, then the following bars while it is partly filled).
SELECT "timestamp", open::float8, close::float8, volume::float8
FROM stock_aggs
WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s AND adjusted AND "timestamp" > %(after)s
ORDER BY "timestamp"
LIMIT %(bars)s
