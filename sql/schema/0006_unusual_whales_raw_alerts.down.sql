DROP TABLE IF EXISTS unusual_whales_raw_alerts;
