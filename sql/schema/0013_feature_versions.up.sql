-- ADDITION to the spec: which definition computed each partition's stored features. One row per
-- (timeframe, UTC day of the features partition, feature); the features asset writes it with the rows.
-- Training reads only the days whose every feature is at its current version; scoring refuses a model
-- whose recorded versions differ from those stored for the bars it scores.
CREATE TABLE feature_versions (
    timeframe     VARCHAR(8)   NOT NULL,
    day           DATE         NOT NULL,
    feature_name  VARCHAR(64)  NOT NULL,
    version       VARCHAR(16)  NOT NULL,
    computed_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    PRIMARY KEY (timeframe, day, feature_name)
);

-- ADDITION to the spec: the time ranges the Unusual Whales flow ingest has fetched completely, as merged
-- islands. Flow features of a session exist only where one island covers the session's flow window;
-- a session without a successful ingest has no flow features (NULL, not zero flow).
CREATE TABLE flow_ingest_coverage (
    covered_from  TIMESTAMPTZ  PRIMARY KEY,
    covered_to    TIMESTAMPTZ  NOT NULL CHECK (covered_to >= covered_from)
);
