-- The newest stored 1m stock bar: how fresh the market data is.
SELECT max("timestamp") AS newest FROM stock_aggs WHERE timeframe = '1m'
