-- Record an emergency stop; what it closed is filled in once the broker has answered.
INSERT INTO emergency_events (event_id, "timestamp", trigger_type, severity, description, action_taken,
                              positions_closed, total_value, triggered_by, metadata)
VALUES (%(event_id)s, now(), %(trigger_type)s, 'critical', %(description)s, %(action_taken)s, 0, 0,
        %(triggered_by)s, %(metadata)s::jsonb)
