-- ADDITION to the spec: splits and dividends from Polygon's reference endpoints (/v3/reference/splits,
-- /v3/reference/dividends). A split changes every adjusted bar of its symbol before its execution date; the
-- market-data split sensor re-fetches that history once and records when in history_adjusted_at.
CREATE TABLE stock_splits (
    symbol               VARCHAR(16)    NOT NULL,
    execution_date       DATE           NOT NULL,
    split_from           NUMERIC(18,8)  NOT NULL,
    split_to             NUMERIC(18,8)  NOT NULL,
    polygon_id           VARCHAR(128),
    first_seen_at        TIMESTAMPTZ    NOT NULL DEFAULT now(),
    history_adjusted_at  TIMESTAMPTZ,
    PRIMARY KEY (symbol, execution_date),
    CONSTRAINT stock_splits_ratio_check CHECK (split_from > 0 AND split_to > 0)
);
-- The sensor's question: which splits have not been applied to the stored history yet.
CREATE INDEX stock_splits_pending_idx ON stock_splits (execution_date) WHERE history_adjusted_at IS NULL;

CREATE TABLE dividends (
    symbol            VARCHAR(16)    NOT NULL,
    ex_dividend_date  DATE           NOT NULL,
    dividend_type     VARCHAR(2)     NOT NULL,
    cash_amount       NUMERIC(18,8)  NOT NULL,
    currency          VARCHAR(8),
    declaration_date  DATE,
    record_date       DATE,
    pay_date          DATE,
    frequency         INTEGER,
    polygon_id        VARCHAR(128),
    PRIMARY KEY (symbol, ex_dividend_date, dividend_type),
    CONSTRAINT dividends_type_check CHECK (dividend_type IN ('CD', 'SC', 'LT', 'ST'))
);
