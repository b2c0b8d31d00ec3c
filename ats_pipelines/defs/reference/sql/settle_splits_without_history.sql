-- Executed splits with no stored adjusted bar of their symbol before the execution date have no history to
-- re-fetch: recorded as applied, so split_adjustment_sensor never asks for them. (A split still to come
-- stays pending: history loaded before it executes would be stale afterwards.)
UPDATE stock_splits AS s SET history_adjusted_at = now()
WHERE s.history_adjusted_at IS NULL
  AND s.execution_date <= (now() AT TIME ZONE 'America/New_York')::date
  AND NOT EXISTS (
      SELECT 1 FROM stock_aggs AS b
      WHERE b.symbol = s.symbol AND b.adjusted
        AND b."timestamp" < (s.execution_date::timestamp AT TIME ZONE 'America/New_York'))
