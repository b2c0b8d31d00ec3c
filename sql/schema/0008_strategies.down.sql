ALTER TABLE positions DROP CONSTRAINT IF EXISTS positions_strategy_id_fkey;
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_strategy_id_fkey;
DROP TABLE IF EXISTS strategies;
