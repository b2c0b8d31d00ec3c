-- The adjusted bars of %(symbol)s and %(timeframe)s opening at or after %(after)s, oldest first: where a
-- simulated order fills (the first bar that opens once the order exists, then the following ones while
-- it is partly filled).
SELECT "timestamp", open::float8, close::float8, volume::float8
FROM stock_aggs
WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s AND adjusted AND "timestamp" >= %(after)s
ORDER BY "timestamp"
LIMIT %(bars)s
