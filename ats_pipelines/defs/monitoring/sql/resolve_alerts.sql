-- Close the open alerts of a type (an emergency stop's, once trading resumes), recording when.
UPDATE alerts SET status = 'resolved', resolved_at = now(),
    metadata = coalesce(metadata, '{}'::jsonb) || jsonb_build_object('resolution', %(resolution)s::text)
WHERE alert_type = %(alert_type)s AND status = 'open'
