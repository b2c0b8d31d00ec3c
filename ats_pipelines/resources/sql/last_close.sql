-- The close of the newest adjusted bar of %(symbol)s and %(timeframe)s that had ended by %(at)s (a bar is
-- stamped with its start and lasts %(bar)s): the mark to market, never a price from the future.
SELECT close::float8 FROM stock_aggs
WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s AND adjusted AND "timestamp" <= %(at)s - %(bar)s
ORDER BY "timestamp" DESC
LIMIT 1
