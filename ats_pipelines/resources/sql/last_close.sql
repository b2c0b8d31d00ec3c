-- The close of the newest adjusted bar of %(symbol)s and %(timeframe)s at or before %(at)s (mark to market).
SELECT close::float8 FROM stock_aggs
WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s AND adjusted AND "timestamp" <= %(at)s
ORDER BY "timestamp" DESC
LIMIT 1
