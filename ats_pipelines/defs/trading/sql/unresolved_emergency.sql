-- The newest emergency stop in force (not resolved), if any: it blocks every order, and emergency:status
-- mirrors it.
SELECT event_id::text AS event_id, "timestamp"::text AS triggered_at, trigger_type, severity, description,
       action_taken, triggered_by
FROM emergency_events
WHERE resolution_time IS NULL
ORDER BY "timestamp" DESC
LIMIT 1
