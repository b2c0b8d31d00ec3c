-- ADDITION to the spec: orders.strategy_id and positions.strategy_id are marked FOREIGN KEY, but the spec's
-- 21 tables define no strategies table. This is it, and the two foreign keys it makes possible.
-- trading_metrics.strategy_id stays a plain column (the spec does not mark it as a foreign key, and metrics
-- of a deleted strategy stay history).
CREATE TABLE strategies (
    strategy_id  UUID         PRIMARY KEY,
    name         VARCHAR(64)  NOT NULL UNIQUE,
    description  TEXT,
    model_name   VARCHAR(64),
    parameters   JSONB        NOT NULL DEFAULT '{}'::jsonb,
    status       VARCHAR(16)  NOT NULL DEFAULT 'active',
    created_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT strategies_status_check CHECK (status IN ('active', 'paused', 'retired'))
);
ALTER TABLE orders ADD CONSTRAINT orders_strategy_id_fkey
    FOREIGN KEY (strategy_id) REFERENCES strategies (strategy_id);
ALTER TABLE positions ADD CONSTRAINT positions_strategy_id_fkey
    FOREIGN KEY (strategy_id) REFERENCES strategies (strategy_id);
