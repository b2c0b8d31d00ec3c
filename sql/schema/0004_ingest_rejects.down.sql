DROP TABLE IF EXISTS ingest_rejects;
