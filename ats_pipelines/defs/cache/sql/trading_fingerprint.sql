-- A cheap fingerprint of the orders, positions and emergency tables: it changes whenever a row is added,
-- removed or updated, so a sensor can tell when the trading cache must be rebuilt.
SELECT concat_ws('|',
    (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM orders),
    (SELECT count(*) || ':' || coalesce(max(last_update)::text, '') FROM positions),
    (SELECT count(*) || ':' || coalesce(max("timestamp")::text, '') || ':' || count(resolution_time)
     FROM emergency_events)) AS fingerprint
