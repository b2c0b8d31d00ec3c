-- A successful flow ingest fetched every alert created in [%(from)s, %(to)s]: extend the island it overlaps
-- (the usual case: each run starts a few minutes before the previous one's end), or start a new one.
WITH extended AS (
    UPDATE flow_ingest_coverage
    SET covered_to = greatest(covered_to, %(to)s::timestamptz)
    WHERE covered_from <= %(from)s::timestamptz AND covered_to >= %(from)s::timestamptz
    RETURNING 1
)
INSERT INTO flow_ingest_coverage (covered_from, covered_to)
SELECT %(from)s::timestamptz, %(to)s::timestamptz
WHERE NOT EXISTS (SELECT 1 FROM extended)
ON CONFLICT (covered_from) DO UPDATE SET covered_to = greatest(flow_ingest_coverage.covered_to, EXCLUDED.covered_to)
