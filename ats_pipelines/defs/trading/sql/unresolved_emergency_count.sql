-- How many emergency stops are in force (not resolved): any one blocks every order.
SELECT count(*) AS unresolved FROM emergency_events WHERE resolution_time IS NULL
