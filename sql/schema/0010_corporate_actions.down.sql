-- Reverse of 0010_corporate_actions.up.sql.
DROP TABLE IF EXISTS dividends;
DROP TABLE IF EXISTS stock_splits;
