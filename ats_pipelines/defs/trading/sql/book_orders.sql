-- The newest orders of every strategy (what `ats book` lists), with the bar of the signal each came from.
SELECT st.name AS strategy, sg."timestamp" AS bar, o.symbol, o.side, o.quantity::float8 AS quantity, o.status,
       o.filled_price::float8 AS filled_price
FROM orders AS o
LEFT JOIN strategies AS st ON st.strategy_id = o.strategy_id
LEFT JOIN trading_signals AS sg ON sg.signal_id = o.signal_id
ORDER BY o."timestamp" DESC, o.order_id
LIMIT %(limit)s
