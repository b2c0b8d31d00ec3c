-- The Unusual Whales flow alerts exactly as received, for audit (beyond the spec's 21 tables): the spec's
-- unusual_whales_options holds derived columns (sentiment, premium type, days to expiration) that the API
-- does not send, so the raw alert stays beside them under the same key.
CREATE TABLE unusual_whales_raw_alerts (
    alert_id     VARCHAR(64)  NOT NULL,
    "timestamp"  TIMESTAMPTZ  NOT NULL,
    received_at  TIMESTAMPTZ  NOT NULL DEFAULT now(),
    alert        JSONB        NOT NULL,
    PRIMARY KEY (alert_id, "timestamp")
);
