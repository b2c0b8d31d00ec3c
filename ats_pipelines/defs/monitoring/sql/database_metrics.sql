-- Size facts of the market-data database, one row per metric (name, value).
SELECT 'database_bytes' AS metric_name, pg_database_size(current_database())::numeric AS metric_value
UNION ALL
SELECT 'rows_estimate:' || c.relname, greatest(c.reltuples, 0)::numeric
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname <> 'alembic_version'
UNION ALL
SELECT 'connections', count(*)::numeric FROM pg_stat_activity WHERE datname = current_database()
