-- The newest stored 1m stock bar: how fresh the market data is. A skip scan over the symbols of the key
-- (symbol, "timestamp", timeframe, adjusted): one index probe per symbol, never a scan of every minute bar
-- (what max() over the whole table costs on plain PostgreSQL, where no index leads with "timestamp").
WITH RECURSIVE symbols AS (
    (SELECT symbol FROM stock_aggs ORDER BY symbol LIMIT 1)
    UNION ALL
    SELECT (SELECT s.symbol FROM stock_aggs AS s WHERE s.symbol > symbols.symbol ORDER BY s.symbol LIMIT 1)
    FROM symbols WHERE symbols.symbol IS NOT NULL
)
SELECT max((SELECT b."timestamp" FROM stock_aggs AS b WHERE b.symbol = symbols.symbol AND b.timeframe = '1m'
            ORDER BY b."timestamp" DESC LIMIT 1)) AS newest
FROM symbols WHERE symbol IS NOT NULL
