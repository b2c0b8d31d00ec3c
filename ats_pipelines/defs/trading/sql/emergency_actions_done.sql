-- What a stop did at the broker: orders canceled, positions closed and their value.
UPDATE emergency_events
SET positions_closed = %(positions_closed)s, total_value = %(total_value)s,
    metadata = coalesce(metadata, '{}'::jsonb) || %(metadata)s::jsonb
WHERE event_id = %(event_id)s
