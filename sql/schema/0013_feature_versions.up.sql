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
