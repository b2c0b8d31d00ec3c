-- 1m stock bars per (symbol, session) inside each session's regular hours, for the calendar gap check.
-- Sessions come in as parallel arrays of opens and closes (UTC) from the exchange calendar; a session lies
-- inside one UTC date, so bars join their session on that date (a hash join, not a range join per pair).
-- Pairs without bars are absent: the caller counts them as missing.
WITH sessions AS (
    SELECT open, close, date_trunc('day', open AT TIME ZONE 'UTC') AS day
    FROM unnest(%(opens)s::timestamptz[], %(closes)s::timestamptz[]) AS w(open, close)
)
SELECT b.symbol, s.open, count(*) AS bars
FROM stock_aggs b
JOIN sessions s ON date_trunc('day', b."timestamp" AT TIME ZONE 'UTC') = s.day
WHERE b.timeframe = '1m' AND b.adjusted = %(adjusted)s AND b.symbol = ANY(%(symbols)s)
  AND b."timestamp" >= %(start)s AND b."timestamp" < %(end)s
  AND b."timestamp" >= s.open AND b."timestamp" < s.close
GROUP BY b.symbol, s.open
