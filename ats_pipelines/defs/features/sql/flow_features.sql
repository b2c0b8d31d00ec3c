-- Options-flow features at each 1d stock bar in [%(start)s, %(end)s). A session's flow is every alert on
-- the symbol (as underlying) created from the previous session's close up to, not including, this
-- session's close (New York), so each alert counts in exactly one session and never after its close.
-- %(days)s, %(flow_starts)s and %(closes)s describe the sessions (from the exchange calendar).
WITH sessions AS (
    SELECT * FROM unnest(%(days)s::date[], %(flow_starts)s::timestamptz[], %(closes)s::timestamptz[])
        AS s(day, flow_start, session_close)
), bars AS (
    SELECT b.symbol, b."timestamp", s.flow_start, s.session_close
    FROM stock_aggs AS b
    JOIN sessions AS s ON s.day = (b."timestamp" AT TIME ZONE 'America/New_York')::date
    WHERE b.timeframe = '1d' AND b.adjusted AND b."timestamp" >= %(start)s AND b."timestamp" < %(end)s
)
SELECT bars.symbol,
       bars."timestamp",
       coalesce(sum(a.premium) FILTER (WHERE a.sentiment = 'bullish'), 0)
           - coalesce(sum(a.premium) FILTER (WHERE a.sentiment = 'bearish'), 0) AS flow_net_premium,
       sum(a.premium) FILTER (WHERE a.option_type = 'C')
           / NULLIF(sum(a.premium) FILTER (WHERE a.option_type = 'P'), 0) AS flow_call_put_premium_ratio,
       count(a.alert_id) AS flow_alert_count
FROM bars
LEFT JOIN unusual_whales_options AS a
    ON a.underlying = bars.symbol AND a."timestamp" >= bars.flow_start AND a."timestamp" < bars.session_close
GROUP BY bars.symbol, bars."timestamp"
ORDER BY bars.symbol, bars."timestamp"
