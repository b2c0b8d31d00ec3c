-- Once REST has delivered a symbol's trades or quotes for a window, the stream's provisional rows of that
-- window go: the stream stamps ticks in milliseconds, REST in nanoseconds, so the same print has two keys
-- and would otherwise be stored twice. Bars need no such step (same key on both paths).
DELETE FROM {table}
WHERE symbol = %(symbol)s AND "timestamp" >= %(start)s AND "timestamp" < %(end)s AND source = 'polygon_ws'
