-- Per symbol, the executed splits not yet applied to its stored adjusted history, when such history exists
-- before the latest of them: the first stored adjusted bar's New York date (where the re-fetch starts) and the
-- latest execution date (the re-fetch ends the day before). split_adjustment_sensor turns each into one run.
SELECT s.symbol,
       (min(first_bar."timestamp") AT TIME ZONE 'America/New_York')::date AS first_day,
       max(s.execution_date) AS last_execution,
       string_agg(s.execution_date::text || ':' || s.split_to::text || '/' || s.split_from::text, ','
                  ORDER BY s.execution_date) AS splits
FROM stock_splits AS s
CROSS JOIN LATERAL (
    SELECT b."timestamp" FROM stock_aggs AS b
    WHERE b.symbol = s.symbol AND b.adjusted
      AND b."timestamp" < (s.execution_date::timestamp AT TIME ZONE 'America/New_York')
    ORDER BY b."timestamp" LIMIT 1
) AS first_bar
WHERE s.history_adjusted_at IS NULL
  AND s.execution_date <= (now() AT TIME ZONE 'America/New_York')::date
GROUP BY s.symbol
ORDER BY s.symbol
