-- Resume: every stop in force is resolved, with who resolved it and how.
UPDATE emergency_events
SET resolution_time = now(),
    metadata = coalesce(metadata, '{}'::jsonb)
        || jsonb_build_object('resolution', %(resolution)s::text, 'resolved_by', %(resolved_by)s::text)
WHERE resolution_time IS NULL
