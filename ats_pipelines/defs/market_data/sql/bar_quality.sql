-- Duplicate keys ({key}) and OHLC violations of {table} bars in [%(start)s, %(end)s) for %(symbols)s.
SELECT count(*) AS bars,
       count(*) - count(DISTINCT ({key})) AS duplicate_keys,
       count(*) FILTER (WHERE high < greatest(open, close, low) OR low > least(open, close)
                           OR open <= 0 OR high <= 0 OR low <= 0 OR close <= 0 OR volume < 0) AS ohlc_violations
FROM {table}
WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND symbol = ANY(%(symbols)s)
