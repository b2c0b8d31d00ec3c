-- The 21 tables of shared/spec/database_schema.md, on plain PostgreSQL (>= 15).
--
-- Column names, types, NOT NULL and defaults are the spec's. Where this file goes beyond the spec it
-- says so in a `-- KEY:` or `-- DEVIATION:` comment; docs/schema.md lists every such choice.
--
-- Idempotent writes: every time-series table has a UNIQUE natural key that contains `timestamp`
-- (TimescaleDB requires the partitioning column in every unique index). Where the spec lists an index
-- whose columns are a prefix of that key, the unique index *is* that index (one index, not two), so a
-- write maintains no more indexes than the spec asks for. Every key column is NOT NULL: a NULL in a key
-- makes rows distinct and a re-run would duplicate them (lessons.md #5).

-- ---------------------------------------------------------------------------------------------------
-- Market data
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE stock_aggs (
    "timestamp"    TIMESTAMPTZ   NOT NULL,
    symbol         VARCHAR(16)   NOT NULL,
    open           NUMERIC(16,6) NOT NULL,
    high           NUMERIC(16,6) NOT NULL,
    low            NUMERIC(16,6) NOT NULL,
    close          NUMERIC(16,6) NOT NULL,
    volume         BIGINT        NOT NULL,
    vwap           NUMERIC(16,6),
    transactions   INTEGER,
    timeframe      VARCHAR(8)    NOT NULL,
    source         VARCHAR(32)   DEFAULT 'polygon',
    multiplier     INTEGER       DEFAULT 1,
    timespan_unit  VARCHAR(16)   DEFAULT 'minute',
    -- DEVIATION: NOT NULL added; `adjusted` is part of the key so raw and split-adjusted bars coexist.
    adjusted       BOOLEAN       NOT NULL DEFAULT FALSE,
    otc            BOOLEAN       DEFAULT FALSE
);
-- KEY: one bar per symbol, start time, timeframe and adjustment. Serves the spec's
-- index on (symbol, timestamp, timeframe) as its prefix.
CREATE UNIQUE INDEX stock_aggs_symbol_timestamp_timeframe_key
    ON stock_aggs (symbol, "timestamp", timeframe, adjusted);
CREATE INDEX stock_aggs_adjusted_symbol_timestamp_idx ON stock_aggs (adjusted, symbol, "timestamp");

CREATE TABLE crypto_aggs (
    "timestamp"    TIMESTAMPTZ   NOT NULL,
    symbol         VARCHAR(16)   NOT NULL,
    open           NUMERIC(20,8) NOT NULL,
    high           NUMERIC(20,8) NOT NULL,
    low            NUMERIC(20,8) NOT NULL,
    close          NUMERIC(20,8) NOT NULL,
    volume         NUMERIC(24,8) NOT NULL,
    vwap           NUMERIC(20,8),
    transactions   INTEGER,
    timeframe      VARCHAR(8)    NOT NULL,
    source         VARCHAR(32)   DEFAULT 'polygon',
    multiplier     INTEGER       DEFAULT 1,
    timespan_unit  VARCHAR(16)   DEFAULT 'minute',
    exchange       VARCHAR(16)
);
-- KEY: Polygon crypto bars are consolidated across exchanges, so `exchange` is not part of the key.
CREATE UNIQUE INDEX crypto_aggs_symbol_timestamp_timeframe_key
    ON crypto_aggs (symbol, "timestamp", timeframe);
CREATE INDEX crypto_aggs_exchange_symbol_timestamp_idx ON crypto_aggs (exchange, symbol, "timestamp");

CREATE TABLE quotes (
    "timestamp"      TIMESTAMPTZ   NOT NULL,
    symbol           VARCHAR(16)   NOT NULL,
    bid_price        NUMERIC(16,6) NOT NULL,
    ask_price        NUMERIC(16,6) NOT NULL,
    bid_size         INTEGER       NOT NULL,
    ask_size         INTEGER       NOT NULL,
    exchange         VARCHAR(8),
    conditions       VARCHAR[],
    -- DEVIATION: NOT NULL added (key column). Polygon sends it on every stock and options quote.
    sequence_number  BIGINT        NOT NULL,
    tape             CHAR(1),
    source           VARCHAR(32)   DEFAULT 'polygon'
);
-- KEY: TIMESTAMPTZ keeps microseconds and many quotes share one; the per-ticker sequence number
-- tells them apart. Serves the spec's index on (symbol, timestamp) as its prefix.
CREATE UNIQUE INDEX quotes_symbol_timestamp_key ON quotes (symbol, "timestamp", sequence_number);

CREATE TABLE trades (
    "timestamp"      TIMESTAMPTZ   NOT NULL,
    symbol           VARCHAR(16)   NOT NULL,
    price            NUMERIC(16,6) NOT NULL,
    size             INTEGER       NOT NULL,
    exchange         VARCHAR(8)    NOT NULL,
    conditions       VARCHAR[],
    tape             CHAR(1),
    sequence_number  BIGINT,
    -- DEVIATION: NOT NULL added (key column). Stock and crypto trades carry Polygon's `id`; options
    -- trades have none, and the mapper derives a deterministic one (see docs/schema.md).
    trade_id         VARCHAR(32)   NOT NULL,
    source           VARCHAR(32)   DEFAULT 'polygon'
);
-- KEY: Polygon's trade id is unique per (ticker, exchange, reporting facility). Serves the spec's
-- index on (symbol, timestamp) as its prefix.
CREATE UNIQUE INDEX trades_symbol_timestamp_key ON trades (symbol, "timestamp", exchange, trade_id);
CREATE INDEX trades_exchange_timestamp_idx ON trades (exchange, "timestamp");

CREATE TABLE options_aggs (
    "timestamp"    TIMESTAMPTZ   NOT NULL,
    symbol         VARCHAR(32)   NOT NULL,
    underlying     VARCHAR(16)   NOT NULL,
    expiration     DATE          NOT NULL,
    strike         NUMERIC(16,6) NOT NULL,
    option_type    CHAR(1)       NOT NULL,
    open           NUMERIC(16,6),
    high           NUMERIC(16,6),
    low            NUMERIC(16,6),
    close          NUMERIC(16,6),
    volume         INTEGER,
    open_interest  INTEGER,
    timeframe      VARCHAR(8)    NOT NULL,
    multiplier     INTEGER       DEFAULT 1,
    timespan_unit  VARCHAR(16)   DEFAULT 'minute',
    source         VARCHAR(32)   DEFAULT 'polygon',
    CONSTRAINT options_aggs_option_type_check CHECK (option_type IN ('C', 'P'))
);
-- KEY: serves the spec's index on (symbol, timestamp) as its prefix.
CREATE UNIQUE INDEX options_aggs_symbol_timestamp_key ON options_aggs (symbol, "timestamp", timeframe);
CREATE INDEX options_aggs_contract_idx ON options_aggs (underlying, expiration, strike, option_type);

CREATE TABLE unusual_whales_options (
    "timestamp"         TIMESTAMPTZ   NOT NULL,
    symbol              VARCHAR(32)   NOT NULL,
    underlying          VARCHAR(16)   NOT NULL,
    underlying_price    NUMERIC(16,6),
    expiration          DATE          NOT NULL,
    strike              NUMERIC(16,6) NOT NULL,
    option_type         CHAR(1)       NOT NULL,
    premium             NUMERIC(16,6) NOT NULL,
    premium_type        VARCHAR(8)    NOT NULL,
    sentiment           VARCHAR(8)    NOT NULL,
    unusual_score       INTEGER,
    volume              INTEGER       NOT NULL,
    open_interest       INTEGER,
    volume_oi_ratio     NUMERIC(10,6),
    implied_volatility  NUMERIC(10,6),
    days_to_expiration  INTEGER       NOT NULL,
    trade_type          VARCHAR(16),
    size_notation       VARCHAR(16),
    -- DEVIATION: NOT NULL added (key column); the mapper derives a deterministic id when the API has none.
    alert_id            VARCHAR(64)   NOT NULL,
    sector              VARCHAR(32),
    source              VARCHAR(32)   DEFAULT 'unusual_whales',
    CONSTRAINT unusual_whales_options_option_type_check CHECK (option_type IN ('C', 'P'))
);
-- KEY: one row per alert.
CREATE UNIQUE INDEX unusual_whales_options_alert_key ON unusual_whales_options (alert_id, "timestamp");
CREATE INDEX unusual_whales_options_contract_idx
    ON unusual_whales_options (underlying, expiration, strike, option_type);
CREATE INDEX unusual_whales_options_symbol_timestamp_idx ON unusual_whales_options (symbol, "timestamp");
CREATE INDEX unusual_whales_options_unusual_score_idx
    ON unusual_whales_options (unusual_score) WHERE unusual_score IS NOT NULL;

-- ---------------------------------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE ticker_details (
    ticker                          VARCHAR(16)  PRIMARY KEY,
    name                            VARCHAR(128) NOT NULL,
    market                          VARCHAR(32)  NOT NULL,
    locale                          VARCHAR(16)  NOT NULL,
    type                            VARCHAR(16)  NOT NULL,
    currency                        VARCHAR(8)   NOT NULL,
    active                          BOOLEAN      DEFAULT TRUE,
    primary_exchange                VARCHAR(32),
    last_updated                    TIMESTAMPTZ  NOT NULL,
    description                     TEXT,
    sic_code                        VARCHAR(8),
    sic_description                 VARCHAR(256),
    ticker_root                     VARCHAR(16),
    homepage_url                    VARCHAR(256),
    total_employees                 INTEGER,
    list_date                       DATE,
    share_class_shares_outstanding  BIGINT,
    weighted_shares_outstanding     BIGINT,
    market_cap                      BIGINT,
    phone_number                    VARCHAR(32),
    address                         JSONB,
    metadata                        JSONB
);
CREATE INDEX ticker_details_market_active_idx ON ticker_details (market, active);
CREATE INDEX ticker_details_type_active_idx ON ticker_details (type, active);

CREATE TABLE market_holidays (
    date        DATE        NOT NULL,
    name        VARCHAR(64) NOT NULL,
    market      VARCHAR(32) NOT NULL,
    status      VARCHAR(16) NOT NULL,
    open_time   TIME,
    close_time  TIME,
    year        INTEGER     NOT NULL,
    PRIMARY KEY (date, market)
);
CREATE INDEX market_holidays_year_market_idx ON market_holidays (year, market);

CREATE TABLE market_status (
    "timestamp"  TIMESTAMPTZ NOT NULL,
    market       VARCHAR(32) NOT NULL,
    status       VARCHAR(16) NOT NULL,
    next_open    TIMESTAMPTZ,
    next_close   TIMESTAMPTZ,
    early_close  BOOLEAN     DEFAULT FALSE,
    late_open    BOOLEAN     DEFAULT FALSE,
    PRIMARY KEY ("timestamp", market)
);
CREATE INDEX market_status_market_status_idx ON market_status (market, status);

CREATE TABLE news_articles (
    article_id     VARCHAR(64)  PRIMARY KEY,
    published_utc  TIMESTAMPTZ  NOT NULL,
    title          VARCHAR(512) NOT NULL,
    author         VARCHAR(128),
    article_url    VARCHAR(512) NOT NULL,
    tickers        VARCHAR[],
    image_url      VARCHAR(512),
    description    TEXT,
    keywords       VARCHAR[],
    source         VARCHAR(64)  NOT NULL
);
CREATE INDEX news_articles_published_utc_idx ON news_articles (published_utc);
CREATE INDEX news_articles_tickers_idx ON news_articles USING GIN (tickers);

-- ---------------------------------------------------------------------------------------------------
-- Feature engineering
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE features (
    "timestamp"    TIMESTAMPTZ   NOT NULL,
    symbol         VARCHAR(16)   NOT NULL,
    feature_name   VARCHAR(64)   NOT NULL,
    feature_value  NUMERIC(20,8) NOT NULL,
    timeframe      VARCHAR(8)    NOT NULL,
    feature_group  VARCHAR(32)   NOT NULL
);
-- KEY: the spec's index on (symbol, feature_name, timestamp, timeframe), made unique.
CREATE UNIQUE INDEX features_symbol_feature_name_timestamp_timeframe_key
    ON features (symbol, feature_name, "timestamp", timeframe);
CREATE INDEX features_feature_group_symbol_timestamp_idx ON features (feature_group, symbol, "timestamp");

CREATE TABLE feature_metadata (
    feature_name  VARCHAR(64) PRIMARY KEY,
    description   TEXT        NOT NULL,
    formula       TEXT,
    parameters    JSONB,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    version       VARCHAR(16) NOT NULL,
    is_active     BOOLEAN     DEFAULT TRUE
);

-- ---------------------------------------------------------------------------------------------------
-- Model training
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE models (
    model_id    UUID         PRIMARY KEY,
    model_name  VARCHAR(64)  NOT NULL,
    model_type  VARCHAR(32)  NOT NULL,
    target      VARCHAR(64)  NOT NULL,
    features    VARCHAR[]    NOT NULL,
    parameters  JSONB        NOT NULL,
    metrics     JSONB        NOT NULL,
    created_at  TIMESTAMPTZ  NOT NULL,
    trained_at  TIMESTAMPTZ  NOT NULL,
    version     VARCHAR(16)  NOT NULL,
    status      VARCHAR(16)  NOT NULL,
    file_path   VARCHAR(256) NOT NULL
);
-- KEY: the spec's index on (model_name, version), made unique: a name and version name one model.
CREATE UNIQUE INDEX models_model_name_version_key ON models (model_name, version);
CREATE INDEX models_status_model_type_idx ON models (status, model_type);

CREATE TABLE model_training_runs (
    run_id      UUID        PRIMARY KEY,
    model_id    UUID        REFERENCES models (model_id) ON DELETE CASCADE,
    start_time  TIMESTAMPTZ NOT NULL,
    end_time    TIMESTAMPTZ,
    status      VARCHAR(16) NOT NULL,
    parameters  JSONB       NOT NULL,
    metrics     JSONB,
    logs        TEXT
);
CREATE INDEX model_training_runs_model_id_start_time_idx ON model_training_runs (model_id, start_time);
CREATE INDEX model_training_runs_status_idx ON model_training_runs (status);

-- ---------------------------------------------------------------------------------------------------
-- Trading
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE trading_signals (
    signal_id          UUID          PRIMARY KEY,
    "timestamp"        TIMESTAMPTZ   NOT NULL,
    symbol             VARCHAR(16)   NOT NULL,
    signal_type        VARCHAR(16)   NOT NULL,
    confidence         NUMERIC(5,4)  NOT NULL,
    model_id           UUID          REFERENCES models (model_id),
    timeframe          VARCHAR(8)    NOT NULL,
    parameters         JSONB,
    features_snapshot  JSONB,
    CONSTRAINT trading_signals_confidence_check CHECK (confidence BETWEEN 0 AND 1)
);
CREATE INDEX trading_signals_symbol_timestamp_signal_type_idx
    ON trading_signals (symbol, "timestamp", signal_type);
CREATE INDEX trading_signals_model_id_timestamp_idx ON trading_signals (model_id, "timestamp");

-- DEVIATION: the spec marks orders.strategy_id and positions.strategy_id as foreign keys but defines no
-- strategies table among its 21, so they are plain UUID columns until such a table exists.
CREATE TABLE orders (
    order_id           UUID          PRIMARY KEY,
    external_order_id  VARCHAR(64)   UNIQUE,
    "timestamp"        TIMESTAMPTZ   NOT NULL,
    symbol             VARCHAR(16)   NOT NULL,
    order_type         VARCHAR(16)   NOT NULL,
    side               VARCHAR(8)    NOT NULL,
    quantity           NUMERIC(16,6) NOT NULL,
    price              NUMERIC(16,6),
    status             VARCHAR(16)   NOT NULL,
    signal_id          UUID          REFERENCES trading_signals (signal_id),
    strategy_id        UUID,
    filled_quantity    NUMERIC(16,6) DEFAULT 0,
    filled_price       NUMERIC(16,6),
    commission         NUMERIC(10,6) DEFAULT 0,
    updated_at         TIMESTAMPTZ   NOT NULL
);
CREATE INDEX orders_symbol_timestamp_idx ON orders (symbol, "timestamp");
CREATE INDEX orders_status_timestamp_idx ON orders (status, "timestamp");
CREATE INDEX orders_signal_id_idx ON orders (signal_id);
CREATE INDEX orders_strategy_id_timestamp_idx ON orders (strategy_id, "timestamp");

CREATE TABLE positions (
    position_id     UUID          PRIMARY KEY,
    symbol          VARCHAR(16)   NOT NULL,
    quantity        NUMERIC(16,6) NOT NULL,
    entry_price     NUMERIC(16,6) NOT NULL,
    current_price   NUMERIC(16,6) NOT NULL,
    entry_time      TIMESTAMPTZ   NOT NULL,
    last_update     TIMESTAMPTZ   NOT NULL,
    strategy_id     UUID,
    status          VARCHAR(16)   NOT NULL,
    pnl             NUMERIC(16,6) NOT NULL,
    pnl_percentage  NUMERIC(10,6) NOT NULL,
    metadata        JSONB
);
CREATE INDEX positions_symbol_status_idx ON positions (symbol, status);
CREATE INDEX positions_strategy_id_status_idx ON positions (strategy_id, status);

-- ---------------------------------------------------------------------------------------------------
-- Monitoring
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE system_metrics (
    "timestamp"   TIMESTAMPTZ   NOT NULL,
    metric_name   VARCHAR(64)   NOT NULL,
    metric_value  NUMERIC(20,8) NOT NULL,
    component     VARCHAR(32)   NOT NULL,
    host          VARCHAR(64)   NOT NULL,
    tags          JSONB
);
-- KEY: one value per metric, component, host and instant. Serves the spec's index on
-- (metric_name, component, timestamp) as its prefix.
CREATE UNIQUE INDEX system_metrics_metric_name_component_timestamp_key
    ON system_metrics (metric_name, component, "timestamp", host);
CREATE INDEX system_metrics_host_timestamp_idx ON system_metrics (host, "timestamp");

CREATE TABLE trading_metrics (
    "timestamp"   TIMESTAMPTZ   NOT NULL,
    metric_name   VARCHAR(64)   NOT NULL,
    metric_value  NUMERIC(20,8) NOT NULL,
    symbol        VARCHAR(16),
    strategy_id   UUID,
    timeframe     VARCHAR(8),
    tags          JSONB
);
-- KEY: symbol, strategy and timeframe are optional dimensions (NULL = "all"), so the key treats NULLs
-- as equal (PostgreSQL 15 NULLS NOT DISTINCT); writers compare them with IS NOT DISTINCT FROM.
-- Serves the spec's index on (metric_name, timestamp) as its prefix.
CREATE UNIQUE INDEX trading_metrics_metric_name_timestamp_key
    ON trading_metrics (metric_name, "timestamp", symbol, strategy_id, timeframe) NULLS NOT DISTINCT;
CREATE INDEX trading_metrics_symbol_metric_name_timestamp_idx
    ON trading_metrics (symbol, metric_name, "timestamp") WHERE symbol IS NOT NULL;
CREATE INDEX trading_metrics_strategy_id_metric_name_timestamp_idx
    ON trading_metrics (strategy_id, metric_name, "timestamp") WHERE strategy_id IS NOT NULL;

CREATE TABLE alerts (
    alert_id     UUID        PRIMARY KEY,
    "timestamp"  TIMESTAMPTZ NOT NULL,
    alert_type   VARCHAR(32) NOT NULL,
    severity     VARCHAR(16) NOT NULL,
    message      TEXT        NOT NULL,
    component    VARCHAR(32) NOT NULL,
    status       VARCHAR(16) NOT NULL,
    resolved_at  TIMESTAMPTZ,
    metadata     JSONB
);
CREATE INDEX alerts_timestamp_severity_idx ON alerts ("timestamp", severity);
CREATE INDEX alerts_status_timestamp_idx ON alerts (status, "timestamp");
CREATE INDEX alerts_component_timestamp_idx ON alerts (component, "timestamp");

-- ---------------------------------------------------------------------------------------------------
-- Emergency stop
-- ---------------------------------------------------------------------------------------------------

CREATE TABLE emergency_events (
    event_id          UUID          PRIMARY KEY,
    "timestamp"       TIMESTAMPTZ   NOT NULL,
    trigger_type      VARCHAR(32)   NOT NULL,
    severity          VARCHAR(16)   NOT NULL,
    description       TEXT          NOT NULL,
    action_taken      VARCHAR(32)   NOT NULL,
    positions_closed  INTEGER,
    total_value       NUMERIC(20,8),
    resolution_time   TIMESTAMPTZ,
    triggered_by      VARCHAR(64)   NOT NULL,
    metadata          JSONB
);
CREATE INDEX emergency_events_timestamp_severity_idx ON emergency_events ("timestamp", severity);
CREATE INDEX emergency_events_trigger_type_timestamp_idx ON emergency_events (trigger_type, "timestamp");
