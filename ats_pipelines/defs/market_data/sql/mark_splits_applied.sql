-- Pending splits of %(symbols)s that a stock_aggs run re-fetching [%(start)s, %(end)s) has applied: the split
-- was known before the fetch began (%(fetch_started)s), executed no later than the window's end, and no stored
-- adjusted bar of the symbol lies before the window (the run covered all of the stale history).
UPDATE stock_splits AS s SET history_adjusted_at = now()
WHERE s.symbol = ANY(%(symbols)s) AND s.history_adjusted_at IS NULL
  AND s.first_seen_at <= %(fetch_started)s
  AND (s.execution_date::timestamp AT TIME ZONE 'America/New_York') <= %(end)s
  AND NOT EXISTS (
      SELECT 1 FROM stock_aggs AS b
      WHERE b.symbol = s.symbol AND b.adjusted AND b."timestamp" < %(start)s)
