-- Reverse of 0011. Back to the spec's INTEGER sizes: fractional sizes are rounded to whole units (lossy).
DROP TABLE IF EXISTS stream_bar_watermarks;
ALTER TABLE trades ALTER COLUMN size TYPE INTEGER USING round(size)::integer;
ALTER TABLE quotes ALTER COLUMN bid_size TYPE INTEGER USING round(bid_size)::integer;
ALTER TABLE quotes ALTER COLUMN ask_size TYPE INTEGER USING round(ask_size)::integer;
