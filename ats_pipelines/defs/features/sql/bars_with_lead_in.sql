-- Input of one features partition and timeframe: the bars in [%(start)s, %(end)s) of every symbol that has
-- any there or is named in %(symbols)s (the live loop's universe, whose bars may not have begun yet), each
-- preceded by up to %(lead_in)s of that symbol's earlier bars, ordered by symbol and time. With %(only)s, the
-- symbols named and no other (the live loop re-reading a symbol after a gap).
-- The bars placeholder is the timeframe's source (a relation with symbol, "timestamp", high, low, close, volume, vwap).
WITH symbols AS (
    SELECT DISTINCT symbol FROM {bars} AS b
    WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND NOT %(only)s
    UNION
    SELECT unnest(%(symbols)s::text[])
)
SELECT s.symbol, x."timestamp", x.high, x.low, x.close, x.volume, x.vwap
FROM symbols AS s
CROSS JOIN LATERAL (
    (SELECT b."timestamp", b.high, b.low, b.close, b.volume, b.vwap FROM {bars} AS b
     WHERE b.symbol = s.symbol AND b."timestamp" < %(start)s
     ORDER BY b."timestamp" DESC LIMIT %(lead_in)s)
    UNION ALL
    (SELECT b."timestamp", b.high, b.low, b.close, b.volume, b.vwap FROM {bars} AS b
     WHERE b.symbol = s.symbol AND b."timestamp" >= %(start)s AND b."timestamp" < %(end)s)
) AS x
ORDER BY s.symbol, x."timestamp"
