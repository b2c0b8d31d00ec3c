-- The newest %(history)s signals of every (model, symbol) pair, for model:{id}:predictions:{symbol}.
SELECT model_id::text AS model_id, symbol, extract(epoch FROM "timestamp")::float8 AS score,
       json_build_object('signal_id', signal_id, 'signal_type', signal_type, 'confidence', confidence,
                         'timeframe', timeframe, 'timestamp', "timestamp")::text AS member
FROM (
    SELECT *, row_number() OVER (PARTITION BY model_id, symbol ORDER BY "timestamp" DESC) AS rank
    FROM trading_signals
    WHERE model_id IS NOT NULL
) AS ranked
WHERE rank <= %(history)s
