-- The newest adjusted 1m close of each of %(symbols)s: the price of open orders the book has no price for
-- (market orders carry none), so they count in the gross exposure.
SELECT DISTINCT ON (symbol) symbol, close::float8 AS close
FROM stock_aggs
WHERE symbol = ANY(%(symbols)s) AND timeframe = '1m' AND adjusted
ORDER BY symbol, "timestamp" DESC
