-- One alert per cause: the id is derived from the cause, so the same block or failure is never recorded twice.
INSERT INTO alerts (alert_id, "timestamp", alert_type, severity, message, component, status, metadata)
VALUES (%(alert_id)s, now(), %(alert_type)s, %(severity)s, %(message)s, %(component)s, 'open', %(metadata)s::jsonb)
ON CONFLICT (alert_id) DO NOTHING
