-- Reverse of 0001_tables.up.sql: drops the 21 tables, dependents first. One statement per table:
-- TimescaleDB refuses to drop a hypertable together with other objects in one DROP.
DROP TABLE IF EXISTS emergency_events;
DROP TABLE IF EXISTS alerts;
DROP TABLE IF EXISTS trading_metrics;
DROP TABLE IF EXISTS system_metrics;
DROP TABLE IF EXISTS positions;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS trading_signals;
DROP TABLE IF EXISTS model_training_runs;
DROP TABLE IF EXISTS models;
DROP TABLE IF EXISTS feature_metadata;
DROP TABLE IF EXISTS features;
DROP TABLE IF EXISTS news_articles;
DROP TABLE IF EXISTS market_status;
DROP TABLE IF EXISTS market_holidays;
DROP TABLE IF EXISTS ticker_details;
DROP TABLE IF EXISTS unusual_whales_options;
DROP TABLE IF EXISTS options_aggs;
DROP TABLE IF EXISTS trades;
DROP TABLE IF EXISTS quotes;
DROP TABLE IF EXISTS crypto_aggs;
DROP TABLE IF EXISTS stock_aggs;
