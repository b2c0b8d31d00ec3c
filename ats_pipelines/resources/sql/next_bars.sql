-- The adjusted bars of %(symbol)s and %(timeframe)s opening at or after %(after)s, oldest first: where a
-- simulated order fills (the first bar that opens once the order exists, then the following ones while
-- it is partly filled). Market orders fill in the regular session only, as at the broker: extended-hours
-- minute bars are skipped (the regular_hours placeholder: market_calendar.REGULAR_HOURS_SQL).
SELECT "timestamp", open::float8, close::float8, volume::float8
FROM stock_aggs
WHERE symbol = %(symbol)s AND timeframe = %(timeframe)s AND adjusted AND "timestamp" >= %(after)s
  AND (%(timeframe)s <> '1m' OR {regular_hours})
ORDER BY "timestamp"
LIMIT %(bars)s
