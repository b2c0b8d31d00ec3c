-- Reverse of 0012_order_submissions.up.sql.
DROP TABLE IF EXISTS order_submissions;
