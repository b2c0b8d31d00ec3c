-- The splits and cash dividends of %(symbols)s, for the books that hold them (the simulated broker's and the
-- FIFO lots of trading_metrics). A split takes effect at its execution date; a dividend is owed on the
-- shares held when its ex-date begins and paid on its pay date (the ex-date when none is known).
SELECT 'split' AS kind, symbol, execution_date AS day, NULL::date AS pay_day,
       (split_to / split_from)::text AS amount, history_adjusted_at IS NOT NULL AS history_adjusted
FROM stock_splits WHERE symbol = ANY(%(symbols)s)
UNION ALL
SELECT 'dividend', symbol, ex_dividend_date, coalesce(pay_date, ex_dividend_date), cash_amount::text, false
FROM dividends WHERE symbol = ANY(%(symbols)s)
ORDER BY day, kind DESC, symbol
