-- Reverse of 0013_feature_versions.up.sql.
DROP TABLE IF EXISTS flow_ingest_coverage;
DROP TABLE IF EXISTS feature_versions;
