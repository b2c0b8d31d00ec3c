-- Where a new stream process resumes a symbol's minute bars: its watermark, else its newest stored bar
-- after %(floor)s (older history is the batch backfill's). {table} is stock_aggs or crypto_aggs.
SELECT coalesce(
    (SELECT bars_complete_through FROM stream_bar_watermarks WHERE symbol = %(symbol)s AND timeframe = '1m'),
    (SELECT max(timestamp) FROM {table}
     WHERE symbol = %(symbol)s AND timeframe = '1m' AND timestamp >= %(floor)s AND timestamp < %(before)s)
) AS stored_through
