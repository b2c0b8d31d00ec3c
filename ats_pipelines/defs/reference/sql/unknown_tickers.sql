-- Tickers named by recent news or flow alerts that ticker_details does not hold yet (stock-like symbols).
SELECT ticker FROM (
    SELECT unnest(tickers) AS ticker FROM news_articles WHERE published_utc >= now() - interval '7 days'
    UNION
    SELECT underlying FROM unusual_whales_options WHERE "timestamp" >= now() - interval '7 days'
) seen
WHERE ticker ~ '^[A-Z][A-Z.]{0,9}$'
  AND NOT EXISTS (SELECT 1 FROM ticker_details d WHERE d.ticker = seen.ticker)
ORDER BY ticker
LIMIT %(limit)s
