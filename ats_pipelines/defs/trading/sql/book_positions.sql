-- Every strategy's open positions with their unrealised P&L, and its last recorded equity (`ats book`).
SELECT st.name AS strategy, p.symbol, p.quantity::float8 AS quantity, p.entry_price::float8 AS entry_price,
       p.current_price::float8 AS current_price, p.pnl::float8 AS pnl, p.pnl_percentage::float8 AS pnl_percentage,
       (SELECT m.metric_value::float8 FROM trading_metrics AS m
        WHERE m.strategy_id = p.strategy_id AND m.metric_name = 'equity' AND m.symbol IS NULL
        ORDER BY m."timestamp" DESC LIMIT 1) AS equity
FROM positions AS p
LEFT JOIN strategies AS st ON st.strategy_id = p.strategy_id
WHERE p.status = 'open'
ORDER BY 1, 2
