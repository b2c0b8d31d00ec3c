-- Positions that are open now, one per symbol across strategies: quantities and P&L summed, the entry price
-- weighted by quantity, the strategies (and their position ids) listed. Each strategy's own rows go to its
-- strategy:{id}:position:{symbol} keys (strategy_positions.sql).
SELECT symbol, string_agg(position_id::text, ',' ORDER BY strategy_id, position_id) AS position_id,
       sum(quantity)::text AS quantity,
       (sum(quantity * entry_price) / nullif(sum(quantity), 0))::numeric(16,6)::text AS entry_price,
       max(current_price)::text AS current_price, min(entry_time)::text AS entry_time,
       max(last_update)::text AS last_update, coalesce(string_agg(strategy_id::text, ',' ORDER BY strategy_id), '')
           AS strategy_id, 'open' AS status, sum(pnl)::text AS pnl,
       (100 * sum(pnl) / nullif(sum(abs(quantity) * entry_price), 0))::numeric(10,6)::text AS pnl_percentage
FROM positions
WHERE status = 'open'
GROUP BY symbol
ORDER BY symbol
