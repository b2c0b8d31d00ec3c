-- Options-flow features at each 1d stock bar in [%(start)s, %(end)s). A session's flow is every alert on
-- the symbol (as underlying) created from the previous session's close up to, not including, this
-- session's close (New York), so each alert counts in exactly one session and never after its close.
-- %(days)s, %(flow_starts)s and %(closes)s describe the sessions (from the exchange calendar). A session whose
-- flow window no successful ingest covered (flow_ingest_coverage) gets NULL values and flow_covered NULL: no
-- flow features, rather than a day of zero flow.
WITH sessions AS (
    SELECT * FROM unnest(%(days)s::date[], %(flow_starts)s::timestamptz[], %(closes)s::timestamptz[])
        AS s(day, flow_start, session_close)
), bars AS (
    SELECT b.symbol, b."timestamp", s.flow_start, s.session_close,
           EXISTS (SELECT 1 FROM flow_ingest_coverage AS c
                   WHERE c.covered_from <= s.flow_start AND c.covered_to >= s.session_close) AS covered
    FROM stock_aggs AS b
    JOIN sessions AS s ON s.day = (b."timestamp" AT TIME ZONE 'America/New_York')::date
    WHERE b.timeframe = '1d' AND b.adjusted AND b."timestamp" >= %(start)s AND b."timestamp" < %(end)s
)
SELECT bars.symbol,
       bars."timestamp",
       CASE WHEN bars.covered THEN coalesce(sum(a.premium) FILTER (WHERE a.sentiment = 'bullish'), 0)
           - coalesce(sum(a.premium) FILTER (WHERE a.sentiment = 'bearish'), 0) END AS flow_net_premium,
       CASE WHEN bars.covered THEN sum(a.premium) FILTER (WHERE a.option_type = 'C')
           / NULLIF(sum(a.premium) FILTER (WHERE a.option_type = 'P'), 0) END AS flow_call_put_premium_ratio,
       CASE WHEN bars.covered THEN count(a.alert_id) END AS flow_alert_count,
       CASE WHEN bars.covered THEN 1.0 END AS flow_covered
FROM bars
LEFT JOIN unusual_whales_options AS a
    ON a.underlying = bars.symbol AND a."timestamp" >= bars.flow_start AND a."timestamp" < bars.session_close
GROUP BY bars.symbol, bars."timestamp", bars.covered
ORDER BY bars.symbol, bars."timestamp"
