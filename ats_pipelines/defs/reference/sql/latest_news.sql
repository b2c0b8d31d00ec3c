-- The newest article we hold, to fetch only what came after it (with an overlap for late arrivals).
SELECT max(published_utc) AS newest FROM news_articles
