-- Bars of {table} in [%(start)s, %(end)s) for %(symbols)s, and how many break OHLC sanity.
SELECT count(*) AS bars,
       count(*) FILTER (WHERE high < greatest(open, close, low) OR low > least(open, close)
                           OR open <= 0 OR high <= 0 OR low <= 0 OR close <= 0 OR volume < 0) AS ohlc_violations
FROM {table}
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND symbol = ANY(%(symbols)s)
