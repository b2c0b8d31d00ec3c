-- 'v' when stock_aggs_5m is a TimescaleDB continuous aggregate, 'r' when it is the plain roll-up table.
SELECT relkind::text FROM pg_class WHERE oid = to_regclass('stock_aggs_5m')
