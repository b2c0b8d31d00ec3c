-- Reverse of 0001_tables.up.sql: drops the 21 tables, dependents first.
DROP TABLE IF EXISTS
    emergency_events, alerts, trading_metrics, system_metrics,
    positions, orders, trading_signals,
    model_training_runs, models,
    feature_metadata, features,
    news_articles, market_status, market_holidays, ticker_details,
    unusual_whales_options, options_aggs, trades, quotes, crypto_aggs, stock_aggs;
