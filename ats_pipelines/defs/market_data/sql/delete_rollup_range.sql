-- Plain PostgreSQL: drop the roll-up rows of [%(start)s, %(end)s) for %(symbols)s before recomputing them.
DELETE FROM {rollup} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s AND symbol = ANY(%(symbols)s)
