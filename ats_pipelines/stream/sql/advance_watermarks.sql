-- Persist the stream's bar watermarks (symbol -> bars stored through); a watermark only moves forward.
INSERT INTO stream_bar_watermarks (symbol, timeframe, bars_complete_through, updated_at)
SELECT w.symbol, '1m', w.through, now()
FROM unnest(%(symbols)s::text[], %(times)s::timestamptz[]) AS w(symbol, through)
ON CONFLICT (symbol, timeframe) DO UPDATE
SET bars_complete_through = GREATEST(stream_bar_watermarks.bars_complete_through, EXCLUDED.bars_complete_through),
    updated_at = now()
