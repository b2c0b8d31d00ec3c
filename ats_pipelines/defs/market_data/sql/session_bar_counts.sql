-- 1m stock bars per (symbol, session) inside each session's regular hours, for the calendar gap check.
-- Sessions come in as parallel arrays of opens and closes (UTC) from the exchange calendar.
SELECT s.symbol, w.open, w.close, count(b."timestamp") AS bars
FROM unnest(%(symbols)s::text[]) AS s(symbol)
CROSS JOIN unnest(%(opens)s::timestamptz[], %(closes)s::timestamptz[]) AS w(open, close)
LEFT JOIN stock_aggs b
       ON b.symbol = s.symbol AND b.timeframe = '1m' AND b.adjusted = %(adjusted)s
      AND b."timestamp" >= w.open AND b."timestamp" < w.close
GROUP BY s.symbol, w.open, w.close
ORDER BY s.symbol, w.open
