-- The quarantine: vendor records that failed validation, with the reason, kept for a user to read and
-- replay (beyond the spec's 21 tables; operational, like alembic_version). Keyed by a hash of the raw
-- record per table, so re-running an ingest never duplicates a reject.
CREATE TABLE ingest_rejects (
    rejected_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    table_name     VARCHAR(64)  NOT NULL,
    source         VARCHAR(32)  NOT NULL,
    partition_key  VARCHAR(64),
    symbol         VARCHAR(32),
    reason         TEXT         NOT NULL,
    record         JSONB        NOT NULL,
    record_hash    CHAR(32)     NOT NULL,
    CONSTRAINT ingest_rejects_key UNIQUE (table_name, record_hash)
);
CREATE INDEX ingest_rejects_table_rejected_at_idx ON ingest_rejects (table_name, rejected_at DESC);
